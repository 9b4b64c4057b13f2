const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Tells whether a value is a sha256 in the form this package stores: 64 lowercase hex digits. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}
