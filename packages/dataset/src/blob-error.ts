/** Kind of failure of a blob operation. */
export type BlobErrorCode = 'invalid-hash' | 'not-found' | 'corrupted' | 'hash-mismatch';

/**
 * Thrown by a BlobStore. The message names the blob and where it is stored. `sha256` is the
 * requested hash and `location` the file path or object key.
 */
export class BlobError extends Error {
  readonly code: BlobErrorCode;
  readonly sha256: string;
  readonly location: string;

  constructor(code: BlobErrorCode, sha256: string, location: string, message: string) {
    super(message);
    this.name = 'BlobError';
    this.code = code;
    this.sha256 = sha256;
    this.location = location;
  }
}
