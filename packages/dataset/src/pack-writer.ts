import { open, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { encodeRecordHeader, PACK_MAGIC, startsWithPackMagic } from './pack-format.ts';

/** Bytes collected in memory before they are written to the pack file in one call. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** Bytes handed to the file but not yet written, above which `append` waits for the writes. */
const MAX_QUEUED_BYTES = 4 * CHUNK_BYTES;

/**
 * Appends records to one pack file for one staging session. Records are copied into chunks of
 * CHUNK_BYTES and written in order at increasing offsets. Nothing is synced until `sync`, and
 * `rollBack` removes everything that this writer appended.
 */
export class PackWriter {
  readonly id: number;
  readonly path: string;
  /** True when this writer created the pack file, false when it appends to an existing one. */
  readonly created: boolean;
  /** Length of the file before this writer appended to it. */
  readonly startBytes: number;
  private readonly handle: FileHandle;
  /** Length of the file once every appended byte is written. */
  private endBytes: number;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private chunkUsed = 0;
  /** File offset of the chunk's first byte. */
  private chunkStart: number;
  /** Chain of chunk writes. It never rejects, because a failed write sets `failure` instead. */
  private writing: Promise<void> = Promise.resolve();
  private queuedBytes = 0;
  private failure: Error | null = null;

  private constructor(id: number, path: string, handle: FileHandle, created: boolean, startBytes: number) {
    this.id = id;
    this.path = path;
    this.handle = handle;
    this.created = created;
    this.startBytes = startBytes;
    this.endBytes = startBytes;
    this.chunkStart = startBytes;
  }

  /** Creates a new pack file at `path`, failing when it exists, and starts it with the pack magic. */
  static async create(id: number, path: string): Promise<PackWriter> {
    const handle = await open(path, 'wx');
    const writer = new PackWriter(id, path, handle, true, 0);
    writer.copyIn(PACK_MAGIC);
    return writer;
  }

  /** Opens an existing pack file to append after its last byte. Throws when it lacks the pack magic. */
  static async append(id: number, path: string): Promise<PackWriter> {
    const handle = await open(path, 'r+');
    try {
      if (!(await startsWithPackMagic(handle))) {
        throw new Error(
          `Pack ${path} does not start with ${JSON.stringify(PACK_MAGIC.toString('ascii'))}, so it is not a pack ` +
            'file or its first bytes are damaged. Restore it from a backup.',
        );
      }
      const { size } = await handle.stat();
      return new PackWriter(id, path, handle, false, size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Length of the pack once everything appended so far is written. */
  get size(): number {
    return this.endBytes;
  }

  /**
   * Appends a record of the blob and returns the offset of its bytes. The bytes are copied, so the
   * caller may reuse its buffer. Waits while more than MAX_QUEUED_BYTES wait to be written. Throws
   * the error of an earlier failed write.
   */
  async append(sha256: string, bytes: Uint8Array): Promise<number> {
    this.throwIfFailed();
    this.copyIn(encodeRecordHeader(sha256, bytes.length));
    const offset = this.endBytes;
    this.copyIn(bytes);
    if (this.queuedBytes > MAX_QUEUED_BYTES) {
      await this.writing;
      this.throwIfFailed();
    }
    return offset;
  }

  /** Writes everything appended so far and flushes it to the disk with fdatasync. */
  async sync(): Promise<void> {
    await this.flush();
    await this.handle.datasync();
  }

  /** Writes everything appended so far to the file, without syncing it. */
  async flush(): Promise<void> {
    this.enqueueChunk();
    await this.writing;
    this.throwIfFailed();
  }

  /** Removes what this writer appended: deletes a created file, or truncates back to `startBytes`. */
  async rollBack(): Promise<void> {
    await this.writing;
    await this.handle.close();
    if (this.created) await unlink(this.path);
    else await truncate(this.path, this.startBytes);
  }

  async close(): Promise<void> {
    await this.writing;
    await this.handle.close();
  }

  private copyIn(bytes: Uint8Array): void {
    let copied = 0;
    while (copied < bytes.length) {
      const count = Math.min(bytes.length - copied, this.chunk.length - this.chunkUsed);
      this.chunk.set(bytes.subarray(copied, copied + count), this.chunkUsed);
      this.chunkUsed += count;
      this.endBytes += count;
      copied += count;
      if (this.chunkUsed === this.chunk.length) this.enqueueChunk();
    }
  }

  private enqueueChunk(): void {
    if (this.chunkUsed === 0) return;
    const data = this.chunk.subarray(0, this.chunkUsed);
    const position = this.chunkStart;
    this.chunkStart += this.chunkUsed;
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.chunkUsed = 0;
    this.queuedBytes += data.length;
    this.writing = this.writing
      .then(() => (this.failure === null ? this.writeAt(data, position) : undefined))
      .catch((error: unknown) => {
        this.failure ??= new Error(`Writing pack ${this.path} at offset ${position} failed: ${(error as Error).message}`, {
          cause: error,
        });
      })
      .finally(() => {
        this.queuedBytes -= data.length;
      });
  }

  private async writeAt(data: Buffer, position: number): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await this.handle.write(data, written, data.length - written, position + written);
      written += bytesWritten;
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}

