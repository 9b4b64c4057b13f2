import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { BundleManifest } from '@fieldloop/contracts';
import { canonicalJson } from './canonical-json.ts';
import { keyIdOf, type TrustedKey } from './signing-keys.ts';

/** Returns the bytes that are signed: the canonical JSON of the manifest without `signature`. */
export function signedBytes(manifest: BundleManifest): Buffer {
  const { signature: _signature, ...unsigned } = manifest;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
}

/** Returns a copy of the manifest with `keyId` set and an ed25519 `signature` over the rest. */
export function signManifest(manifest: BundleManifest, privateKey: KeyObject): BundleManifest {
  const withKey: BundleManifest = { ...manifest, keyId: keyIdOf(createPublicKey(privateKey)) };
  delete withKey.signature;
  const signature = sign(null, signedBytes(withKey), privateKey).toString('base64');
  return { ...withKey, signature };
}

/**
 * Checks the manifest's signature against the trusted keys and returns the id of the key that
 * verified it. Throws with the reason when the signature is missing, the key is not trusted, or
 * the signature does not match.
 */
export function verifyManifestSignature(manifest: BundleManifest, trustedKeys: readonly TrustedKey[]): string {
  if (!manifest.signature) throw new Error(`manifest ${manifest.name} v${manifest.version} is not signed; sign it with "fieldloop edge sign"`);
  if (trustedKeys.length === 0) throw new Error('no trusted public keys are configured, so no signature can be verified');
  const candidates = manifest.keyId ? trustedKeys.filter((key) => key.keyId === manifest.keyId) : trustedKeys;
  if (candidates.length === 0) {
    throw new Error(`manifest ${manifest.name} v${manifest.version} is signed by key ${manifest.keyId ?? '?'}, which is not trusted`);
  }
  const signature = Buffer.from(manifest.signature, 'base64');
  const bytes = signedBytes(manifest);
  for (const candidate of candidates) {
    if (verify(null, bytes, candidate.key, signature)) return candidate.keyId;
  }
  throw new Error(`signature of manifest ${manifest.name} v${manifest.version} does not verify against trusted key ${candidates.map((k) => k.keyId).join(', ')}`);
}
