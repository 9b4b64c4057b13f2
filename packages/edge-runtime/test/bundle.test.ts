import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError } from '../src/bundle/bundle-error.ts';
import { packBundle, unpackBundle } from '../src/bundle/bundle-archive.ts';
import { canonicalJson } from '../src/bundle/canonical-json.ts';
import { generateSigningKeyPair, parsePrivateKey, parsePublicKey, trustedKeysFrom } from '../src/bundle/signing-keys.ts';
import { verifyBundle } from '../src/bundle/verify-bundle.ts';
import { buildTwoHeadModel, tempDir, writeTfjsBundle } from './helpers/tiny-models.ts';

const pair = generateSigningKeyPair();
const trusted = trustedKeysFrom([pair.publicKeyPem]);
let root: Awaited<ReturnType<typeof tempDir>>;
let good: string;

async function rejection(dir: string, keys = trusted): Promise<BundleError> {
  const error = await verifyBundle(dir, keys).then(() => null, (caught: unknown) => caught);
  if (!(error instanceof BundleError)) throw new Error(`expected a BundleError, got ${String(error)}`);
  return error;
}

async function copyBundle(name: string): Promise<string> {
  const dir = join(root.path, name);
  await unpackBundle(await packBundle(good), dir);
  return dir;
}

beforeAll(async () => {
  root = await tempDir('bundle');
  good = join(root.path, 'good');
  await writeTfjsBundle(buildTwoHeadModel(), good, 1, parsePrivateKey(pair.privateKeyPem));
});
afterAll(() => root.remove());

describe('canonicalJson', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: 'z' } })).toBe('{"a":{"c":"z","d":[2,{"x":0,"y":1}]},"b":1}');
  });
  it('rejects non-finite numbers', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/NaN/);
  });
});

describe('signing keys', () => {
  it('parses raw 32-byte keys as hex', () => {
    const der = parsePublicKey(pair.publicKeyPem).export({ type: 'spki', format: 'der' });
    const raw = der.subarray(der.length - 32).toString('hex');
    expect(trustedKeysFrom([raw])[0]?.keyId).toBe(pair.keyId);
  });
  it('rejects raw keys of the wrong length', () => {
    expect(() => parsePublicKey('abcd')).toThrow(/32 bytes/);
  });
});

describe('verifyBundle', () => {
  it('accepts a signed bundle', async () => {
    const verified = await verifyBundle(good, trusted);
    expect(verified.keyId).toBe(pair.keyId);
    expect(verified.manifest.model.format).toBe('tfjs');
  });

  it('rejects an untrusted key', async () => {
    const other = trustedKeysFrom([generateSigningKeyPair().publicKeyPem]);
    const error = await rejection(good, other);
    expect(error.reason).toBe('bad-signature');
    expect(error.message).toMatch(/not trusted/);
  });

  it('rejects an edited manifest', async () => {
    const dir = await copyBundle('edited');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    manifest.version = 99;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    const error = await rejection(dir);
    expect(error.reason).toBe('bad-signature');
    expect(error.message).toMatch(/does not verify/);
  });

  it('rejects changed weights', async () => {
    const dir = await copyBundle('weights');
    const weights = await readFile(join(dir, 'weights.bin'));
    weights[0] = (weights[0] ?? 0) ^ 0xff;
    await writeFile(join(dir, 'weights.bin'), weights);
    const error = await rejection(dir);
    expect(error.reason).toBe('bad-hash');
    expect(error.message).toMatch(/sha256/);
  });

  it('rejects a missing manifest', async () => {
    const error = await rejection(join(root.path, 'nowhere'));
    expect(error.reason).toBe('missing');
  });

  it('rejects an invalid manifest', async () => {
    const dir = await copyBundle('invalid');
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ name: 'x', version: 1 }));
    const error = await rejection(dir);
    expect(error.reason).toBe('invalid-manifest');
    expect(error.message).toMatch(/created/);
  });
});

describe('bundle archive', () => {
  it('round-trips a bundle', async () => {
    const dir = await copyBundle('roundtrip');
    const verified = await verifyBundle(dir, trusted);
    expect(verified.manifest.version).toBe(1);
  });

  it('rejects a truncated archive', async () => {
    const archive = await packBundle(good);
    await expect(unpackBundle(archive.subarray(0, 700), join(root.path, 'cut'))).rejects.toThrow(/truncated/);
  });

  it('rejects a corrupt header', async () => {
    const archive = await packBundle(good);
    archive[10] = 0x41;
    await expect(unpackBundle(archive, join(root.path, 'corrupt'))).rejects.toThrow(/checksum/);
  });
});
