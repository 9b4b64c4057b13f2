import { unlink } from 'node:fs/promises';
import type { BlobPutOptions, BlobStaging, FileBlob } from './blob-store.ts';
import { readFileBlob } from './file-blob.ts';
import type { PackedBlobEntry, PackIndex, PackRow } from './pack-index.ts';
import type { PackWriter } from './pack-writer.ts';
import { stageOnce } from './stage-once.ts';

/** State and callbacks that a pack staging session takes from its PackedBlobStore. */
export interface PackStagingContext {
  id: string;
  index: PackIndex;
  fsync: boolean;
  /** Tells whether the store already has the blob, packed or as a loose file. */
  has: (sha256: string) => Promise<boolean>;
  /** Computes the sha256 of bytes and checks it against the expected one, as `BlobStore.put` does. */
  hashChecked: (bytes: Uint8Array, expectedSha256: string | undefined, options: BlobPutOptions | undefined) => string;
  /** Opens the pack that this session appends to. Called at the first blob that the store lacks. */
  openWriter: () => Promise<PackWriter>;
  /** Flushes the directory entry of a pack file that the writer created or that the session adopted. */
  syncCreatedPack: () => Promise<void>;
  /**
   * Makes a file one of the store's packs under a new pack id through a hard link, after syncing
   * its bytes. Resolves to null where the file cannot be linked into the packs directory, such as
   * from another file system.
   */
  adoptFile: (path: string) => Promise<AdoptedPack | null>;
  /** Called once when the session has committed or rolled back, with its writer if it opened one. */
  onFinished: (writer: PackWriter | null, committed: boolean) => void;
}

/** A file that a session linked into the packs directory, to be recorded as a pack of `size` bytes at commit. */
export interface AdoptedPack {
  id: number;
  /** The link in the packs directory. */
  path: string;
  size: number;
}

type StagingState = 'open' | 'committing' | 'committed' | 'aborted';

/**
 * A staging session that appends its blobs to one pack file. Commit writes the appended records,
 * syncs the pack with one fdatasync, and then records the pack entries and runs `record` in one
 * SQLite transaction. The blobs become visible with that transaction. A process that dies before
 * it leaves only bytes after the pack's committed length, or a new pack file that no row names,
 * and recovery removes both.
 *
 * `putFile` adopts the file that contains a blob as a pack of its own, linked into the packs
 * directory, and records the blob where it lies in that file. Such a pack has no pack magic and
 * no record headers, so reads check the blob's sha256 alone, and no session appends to it. An
 * adopted link that no commit recorded is a pack file without a row, which recovery removes.
 */
export class PackStaging implements BlobStaging {
  readonly id: string;
  private readonly context: PackStagingContext;
  /** Writes by hash, so that a blob added twice is appended once. */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly entries: PackedBlobEntry[] = [];
  private writer: Promise<PackWriter> | null = null;
  /** Files adopted as packs by their path outside the store, with null where the file could not be linked. */
  private readonly adopted = new Map<string, Promise<AdoptedPack | null>>();
  private state: StagingState = 'open';

  constructor(context: PackStagingContext) {
    this.context = context;
    this.id = context.id;
  }

  async put(bytes: Uint8Array, expectedSha256?: string, options?: BlobPutOptions): Promise<string> {
    this.checkOpen('put');
    const sha256 = this.context.hashChecked(bytes, expectedSha256, options);
    await stageOnce(this.writes, sha256, () => this.stage(sha256, bytes));
    return sha256;
  }

  async putFile(blob: FileBlob, sha256: string): Promise<string> {
    this.checkOpen('put');
    // With `hashVerified`, `hashChecked` checks only the form of the hash and reads no bytes.
    this.context.hashChecked(Buffer.alloc(0), sha256, { hashVerified: true });
    await stageOnce(this.writes, sha256, () => this.stageFile(sha256, blob));
    return sha256;
  }

  /**
   * Syncs the appended blobs and then records them and runs `record` in one SQLite transaction.
   * `record` must be synchronous, because it runs inside that transaction: a step that returns a
   * promise is rolled back and the commit fails. If the transaction fails, the pack is truncated
   * back and the error is rethrown.
   */
  async commit(record?: () => void | Promise<void>): Promise<void> {
    this.checkOpen('commit');
    this.state = 'committing';
    let writer: PackWriter | null = null;
    try {
      for (const write of this.writes.values()) await write;
      writer = this.writer === null ? null : await this.writer;
      const adopted = await this.adoptedPacks();
      if (writer !== null && this.context.fsync) await writer.sync();
      else if (writer !== null) await writer.flush();
      if (this.context.fsync && (writer?.created === true || adopted.length > 0)) await this.context.syncCreatedPack();
      this.recordInTransaction(writer, adopted, record);
    } catch (error) {
      // A put that failed after the writer opened leaves `writer` unset here, but the pack has bytes to remove.
      writer ??= this.writer === null ? null : await this.writer.catch(() => null);
      await this.finish(writer, false, error);
      throw error;
    }
    await this.finish(writer, true, null);
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    if (this.state === 'committing') {
      throw new Error(`Cannot abort staging session ${this.id} while its commit is running. Await the commit.`);
    }
    this.state = 'aborted';
    await Promise.allSettled(this.writes.values());
    const writer = this.writer === null ? null : await this.writer.catch(() => null);
    await this.finish(writer, false, null);
  }

  private async stage(sha256: string, bytes: Uint8Array): Promise<void> {
    if (await this.context.has(sha256)) return;
    this.writer ??= this.context.openWriter();
    const writer = await this.writer;
    const offset = await writer.append(sha256, bytes);
    this.entries.push({ sha256, pack: writer.id, offset, length: bytes.length });
  }

  /** Stages a blob from a file that this session adopted as a pack, or copies its bytes where the file could not be adopted. */
  private async stageFile(sha256: string, blob: FileBlob): Promise<void> {
    let adoption = this.adopted.get(blob.path);
    if (adoption === undefined) {
      adoption = this.context.adoptFile(blob.path);
      this.adopted.set(blob.path, adoption);
    }
    const pack = await adoption;
    if (pack === null) {
      await this.stage(sha256, await readFileBlob(blob));
      return;
    }
    if (!Number.isSafeInteger(blob.offset) || !Number.isSafeInteger(blob.length) || blob.offset < 0 || blob.length < 0 || blob.offset + blob.length > pack.size) {
      throw new RangeError(
        `blob ${sha256} at offset ${blob.offset} with length ${blob.length} does not lie within ${blob.path}, which is ${pack.size} bytes long`,
      );
    }
    // A blob the store has already keeps its first copy, because the commit skips entries of packed blobs.
    this.entries.push({ sha256, pack: pack.id, offset: blob.offset, length: blob.length });
  }

  /** Waits for every adoption and returns the adopted packs. Throws the error of an adoption that failed. */
  private async adoptedPacks(): Promise<AdoptedPack[]> {
    const packs = await Promise.all(this.adopted.values());
    return packs.filter((pack): pack is AdoptedPack => pack !== null);
  }

  private recordInTransaction(writer: PackWriter | null, adopted: readonly AdoptedPack[], record: (() => void | Promise<void>) | undefined): void {
    const packs: PackRow[] = adopted.map((pack) => ({ id: pack.id, committed_bytes: pack.size }));
    if (writer !== null && this.entries.some((entry) => entry.pack === writer.id)) packs.push({ id: writer.id, committed_bytes: writer.size });
    this.context.index.commit(packs, this.entries, () => {
      const result = record?.();
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        throw new TypeError(
          `The record step of staging session ${this.id} returned a promise, but it runs inside the SQLite ` +
            'transaction that records the pack entries and must be synchronous. Write the index rows synchronously.',
        );
      }
    });
  }

  /**
   * Closes the writer after a commit, or truncates the pack back after a failure, then reports to
   * the store. When the roll-back fails, the error names both causes, and the uncommitted bytes
   * stay until the next recovery truncates them.
   */
  private async finish(writer: PackWriter | null, committed: boolean, cause: unknown): Promise<void> {
    this.state = committed ? 'committed' : 'aborted';
    if (!committed) await this.unlinkAdopted();
    try {
      if (writer === null) return;
      if (committed) {
        // NOTE: a failure to close the pack after the commit is not reported, because the blobs
        // are committed and synced.
        await writer.close().catch(() => undefined);
        return;
      }
      await writer.rollBack().catch((rollBackError: unknown) => {
        const after = cause === null ? '' : ` after the commit failed (${(cause as Error).message})`;
        throw new Error(
          `Removing the uncommitted blobs of staging session ${this.id} from pack ${writer.path}${after} failed: ` +
            `${(rollBackError as Error).message}. The next recovery of the store truncates them.`,
          { cause: cause ?? rollBackError },
        );
      });
    } finally {
      this.context.onFinished(writer, committed);
    }
  }

  /** Removes the links of adopted files after a roll-back. The next recovery removes a link left behind. */
  private async unlinkAdopted(): Promise<void> {
    const adoptions = await Promise.allSettled(this.adopted.values());
    for (const adoption of adoptions) {
      if (adoption.status === 'fulfilled' && adoption.value !== null) await unlink(adoption.value.path).catch(() => undefined);
    }
  }

  private checkOpen(operation: string): void {
    if (this.state !== 'open') {
      throw new Error(`Cannot ${operation} in staging session ${this.id}: it is already ${this.state}.`);
    }
  }
}
