/**
 * Content-addressed storage for immutable blobs, keyed by the sha256 of their bytes as 64
 * lowercase hex digits.
 *
 * The interface uses only whole-object reads and writes, key listing, deletion, and staged
 * writes that become visible on commit. An S3-compatible store can implement it with GET, PUT,
 * HEAD, DELETE and ListObjectsV2, staging under a separate key prefix and publishing with
 * CopyObject. Callers such as the data set store depend on this interface only, so another
 * implementation can be added without changing them. LocalBlobStore is the one implementation
 * so far.
 */
export interface BlobStore {
  /** Location of the blobs, for messages: a directory path or a bucket URL. */
  readonly location: string;
  has(sha256: string): Promise<boolean>;
  /**
   * Reads a blob and checks its sha256. Throws a BlobError with code `not-found` when it is
   * absent and `corrupted` when its bytes no longer hash to `sha256`.
   */
  get(sha256: string): Promise<Buffer>;
  /**
   * Stores bytes and returns their sha256. Writes nothing when the blob already exists. When
   * `expectedSha256` is given and differs from the hash of `bytes`, throws a BlobError with code
   * `hash-mismatch` before writing.
   */
  put(bytes: Uint8Array, expectedSha256?: string): Promise<string>;
  /** Deletes a blob. Deleting an absent blob is not an error. */
  delete(sha256: string): Promise<void>;
  /** Yields the hash of every stored blob, in no particular order. */
  list(): AsyncIterable<string>;
  /** Starts a staging session whose writes stay invisible to `has`, `get` and `list` until commit. */
  beginStaging(): Promise<BlobStaging>;
  /**
   * Rolls back staging sessions that a process left behind when it ended before commit or abort
   * had finished. Blobs that such a session had already published are deleted unless
   * `isReferenced` returns true for them. Then the sessions' staged data is removed. Call it
   * only while no staging session is active, for example at start-up under a writer lock.
   */
  recoverStaging(isReferenced: (sha256: string) => boolean | Promise<boolean>): Promise<StagingRecovery>;
}

/** Options of `BlobStaging.put`. */
export interface BlobPutOptions {
  /**
   * True when the caller computed `expectedSha256` over these same bytes, so the session stores
   * them under it without hashing them again. Only the form of the hash is checked then. Ignored
   * without `expectedSha256`.
   */
  hashVerified?: boolean;
}

/**
 * Bytes of one blob inside a file that no one changes any more, such as a closed journal segment.
 * `BlobStaging.putFile` stages it from there.
 */
export interface FileBlob {
  path: string;
  /** Byte offset of the blob's first byte in the file. */
  offset: number;
  length: number;
}

/** A set of blob writes that become visible together. */
export interface BlobStaging {
  /** Unique among the store's staging sessions. */
  readonly id: string;
  /**
   * Stages bytes and returns their sha256. Writes nothing when the blob already exists in the
   * store or in this session. `expectedSha256` works as in `BlobStore.put`, unless
   * `options.hashVerified` is set.
   */
  put(bytes: Uint8Array, expectedSha256?: string, options?: BlobPutOptions): Promise<string>;
  /**
   * Stages the blob that lies in a file, whose bytes the caller has checked to hash to `sha256`.
   * A session without this method gets the bytes through `put` instead. A PackedBlobStore session
   * takes the whole file in as one of its packs through a hard link, so the bytes are not copied.
   * The file must therefore never change again. Where the file cannot be linked (another file
   * system), the session copies the bytes.
   */
  putFile?(blob: FileBlob, sha256: string): Promise<string>;
  /**
   * Publishes every staged blob to the store and then runs `record`, which typically writes the
   * index rows that reference the blobs. If `record` throws, the blobs that this commit added
   * are deleted again and the error is rethrown. The session's data stays on storage until
   * `record` has returned, so that `recoverStaging` can roll back a process that dies in between.
   * A PackedBlobStore session runs `record` inside the SQLite transaction that records its blobs,
   * so there `record` must be synchronous.
   */
  commit(record?: () => void | Promise<void>): Promise<void>;
  /** Discards the staged blobs. Does nothing after a commit has finished. */
  abort(): Promise<void>;
}

/** Result of `recoverStaging`: the sessions and blobs it removed. */
export interface StagingRecovery {
  /** Staging sessions and stray temporary files removed. */
  sessions: number;
  /** Hashes of published blobs deleted because nothing referenced them. */
  deletedBlobs: string[];
}
