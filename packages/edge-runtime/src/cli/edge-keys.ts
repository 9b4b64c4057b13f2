import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleManifest, CliResult } from '@fieldloop/contracts';
import { readModelFiles } from '../bundle/bundle-files.ts';
import { MANIFEST_FILE } from '../bundle/create-bundle.ts';
import { signManifest } from '../bundle/sign-manifest.ts';
import { generateSigningKeyPair, parsePrivateKey } from '../bundle/signing-keys.ts';
import { validateManifest } from '../bundle/validate-manifest.ts';

/** `edge keygen`: writes an ed25519 key pair as PEM files; the private key gets mode 0600. */
export async function runKeygen(options: Record<string, unknown>): Promise<CliResult> {
  const dir = typeof options.out === 'string' ? options.out : '.';
  const name = typeof options.name === 'string' ? options.name : 'edge-signing';
  await mkdir(dir, { recursive: true });
  const pair = generateSigningKeyPair();
  const privateKeyPath = join(dir, `${name}.key`);
  const publicKeyPath = join(dir, `${name}.pub`);
  await writeFile(privateKeyPath, pair.privateKeyPem, { flag: 'wx', mode: 0o600 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') throw new Error(`${privateKeyPath} already exists; choose another --out or --name, keys are never overwritten`);
    throw error;
  });
  await chmod(privateKeyPath, 0o600);
  await writeFile(publicKeyPath, pair.publicKeyPem);
  return {
    exitCode: 0,
    summary: { keyId: pair.keyId, privateKeyPath, publicKeyPath },
    text: `key ${pair.keyId}\n  private: ${privateKeyPath} (keep it on the signing machine)\n  public:  ${publicKeyPath} (give it to robots with --trusted-key)`,
  };
}

/** `edge sign`: recomputes the model's sha256 and size in a bundle's manifest and signs it. */
export async function runSign(options: Record<string, unknown>): Promise<CliResult> {
  if (typeof options.bundle !== 'string') throw new Error('edge sign needs --bundle <dir>');
  if (typeof options.key !== 'string') throw new Error('edge sign needs --key <file> (an ed25519 private key from "fieldloop edge keygen")');
  const manifestPath = join(options.bundle, MANIFEST_FILE);
  const manifest: BundleManifest = validateManifest(JSON.parse(await readFile(manifestPath, 'utf8')), manifestPath);
  const { sha256, bytes } = await readModelFiles(join(options.bundle, manifest.model.file), manifest.model.format);
  const signed = signManifest({ ...manifest, model: { ...manifest.model, sha256, bytes } }, parsePrivateKey(await readFile(options.key, 'utf8')));
  await writeFile(manifestPath, `${JSON.stringify(signed, null, 2)}\n`);
  return {
    exitCode: 0,
    summary: { bundle: options.bundle, name: signed.name, version: signed.version, keyId: signed.keyId, sha256 },
    text: `signed ${signed.name} v${signed.version} with key ${signed.keyId} (model sha256 ${sha256})`,
  };
}
