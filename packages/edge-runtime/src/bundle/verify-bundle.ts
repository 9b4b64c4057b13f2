import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleManifest } from '@fieldloop/contracts';
import { BundleError } from './bundle-error.ts';
import { readModelFiles, type ModelFiles } from './bundle-files.ts';
import { MANIFEST_FILE } from './create-bundle.ts';
import { verifyManifestSignature } from './sign-manifest.ts';
import type { TrustedKey } from './signing-keys.ts';
import { validateManifest } from './validate-manifest.ts';

/** A bundle that passed verification, with its model bytes read once. */
export interface VerifiedBundle {
  dir: string;
  manifest: BundleManifest;
  keyId: string;
  model: ModelFiles;
}

/**
 * Reads a bundle directory and checks its manifest, its signature against the trusted keys and
 * the model's sha256. Throws BundleError with the reason on any failure.
 */
export async function verifyBundle(dir: string, trustedKeys: readonly TrustedKey[]): Promise<VerifiedBundle> {
  const manifestPath = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (error) {
    throw new BundleError('missing', `bundle manifest ${manifestPath} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  let manifest: BundleManifest;
  try {
    manifest = validateManifest(JSON.parse(text), manifestPath);
  } catch (error) {
    throw new BundleError('invalid-manifest', `bundle manifest ${manifestPath} is invalid: ${(error as Error).message}`, { cause: error });
  }
  let keyId: string;
  try {
    keyId = verifyManifestSignature(manifest, trustedKeys);
  } catch (error) {
    throw new BundleError('bad-signature', `bundle ${dir}: ${(error as Error).message}`, { cause: error });
  }
  let read: Awaited<ReturnType<typeof readModelFiles>>;
  try {
    read = await readModelFiles(join(dir, manifest.model.file), manifest.model.format);
  } catch (error) {
    throw new BundleError('bad-model', `bundle ${dir}: model file cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if (read.sha256 !== manifest.model.sha256) {
    throw new BundleError(
      'bad-hash',
      `bundle ${dir}: model sha256 is ${read.sha256} but the manifest states ${manifest.model.sha256}; the model file is corrupt or was replaced`,
    );
  }
  return { dir, manifest, keyId, model: read.files };
}
