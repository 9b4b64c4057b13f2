import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';

/** DER prefixes of ed25519 keys: PKCS#8 private and SPKI public, each followed by the 32 raw bytes. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An ed25519 key pair as PEM text, with the key id robots use to pick the trusted key. */
export interface SigningKeyPair {
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A trusted public key with its id. */
export interface TrustedKey {
  keyId: string;
  key: KeyObject;
}

/** Generates an ed25519 key pair. */
export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Returns the key id: the first 16 hex digits of the sha256 of the raw 32-byte public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der.subarray(der.length - 32)).digest('hex').slice(0, 16);
}

/** Parses an ed25519 private key from PEM text or the 32 raw bytes (as bytes, base64 or hex). */
export function parsePrivateKey(text: string | Uint8Array): KeyObject {
  const key = isPem(text)
    ? createPrivateKey(String(text))
    : createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, rawKeyBytes(text, 'private')]), format: 'der', type: 'pkcs8' });
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`private key is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519; generate one with "fieldloop edge keygen"`);
  }
  return key;
}

/** Parses an ed25519 public key from PEM text or the 32 raw bytes (as bytes, base64 or hex). */
export function parsePublicKey(text: string | Uint8Array): KeyObject {
  const key = isPem(text)
    ? createPublicKey(String(text))
    : createPublicKey({ key: Buffer.concat([SPKI_PREFIX, rawKeyBytes(text, 'public')]), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`public key is ${key.asymmetricKeyType ?? 'unknown'}, expected ed25519`);
  }
  return key;
}

/** Builds the trusted key list from public keys in PEM or raw form. */
export function trustedKeysFrom(keys: readonly (string | Uint8Array | KeyObject)[]): TrustedKey[] {
  return keys.map((item) => {
    const key = item instanceof KeyObject ? item : parsePublicKey(item);
    return { keyId: keyIdOf(key), key };
  });
}

function isPem(text: string | Uint8Array): boolean {
  return typeof text === 'string' ? text.includes('-----BEGIN') : Buffer.from(text).toString('latin1').includes('-----BEGIN');
}

function rawKeyBytes(text: string | Uint8Array, kind: string): Buffer {
  let bytes: Buffer;
  if (typeof text !== 'string') bytes = Buffer.from(text);
  else if (/^[0-9a-fA-F]{64}$/.test(text.trim())) bytes = Buffer.from(text.trim(), 'hex');
  else bytes = Buffer.from(text.trim(), 'base64');
  if (bytes.length !== 32) {
    throw new Error(`raw ed25519 ${kind} key must be 32 bytes, got ${bytes.length}; pass PEM text or 32 bytes as hex or base64`);
  }
  return bytes;
}
