/** Kind of failure in a data set store. */
export type DatasetStoreErrorCode =
  | 'locked'
  | 'read-only'
  | 'not-a-store'
  | 'schema-too-new'
  | 'schema-too-old'
  | 'split-ratios-mismatch'
  | 'snapshot-not-found'
  | 'snapshot-exists'
  | 'sample-not-found'
  | 'invalid-sample'
  | 'sample-conflict'
  | 'write-failed'
  | 'blob-missing'
  | 'blob-corrupted'
  | 'invalid-state';

/**
 * Thrown by DatasetStore and its snapshot builder. The message names the store directory, the
 * snapshot or sample involved, and what to do. `storeDir` is the store's directory.
 */
export class DatasetStoreError extends Error {
  readonly code: DatasetStoreErrorCode;
  readonly storeDir: string;

  constructor(code: DatasetStoreErrorCode, storeDir: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatasetStoreError';
    this.code = code;
    this.storeDir = storeDir;
  }
}
