import { randomBytes } from 'node:crypto';
import { link, mkdir, open, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256Hex, type Logger } from '@fieldloop/contracts';
import type Database from 'better-sqlite3';
import { BlobError } from './blob-error.ts';
import type { BlobPutOptions, BlobStaging, BlobStore, StagingRecovery } from './blob-store.ts';
import { fsyncDirectory, hasErrorCode, readDirIfPresent } from './durable-file.ts';
import { readFully } from './file-blob.ts';
import type { LocalBlobStore } from './local-blob-store.ts';
import { findRecordHeaderMismatch, packFileName, parsePackFileName, RECORD_HEADER_BYTES, startsWithPackMagic } from './pack-format.ts';
import { PackIndex, type PackedBlobEntry } from './pack-index.ts';
import { PackStaging, type AdoptedPack } from './pack-staging.ts';
import { PackWriter } from './pack-writer.ts';

export interface PackedBlobStoreOptions {
  /** Loose blobs, one file each. Reads fall back to them, and `put` writes to them. */
  loose: LocalBlobStore;
  /** Directory of the pack files, `<packsDir>/00000001.pack` and so on. */
  packsDir: string;
  /** The store's index database, which contains the pack tables. */
  db: Database.Database;
  /** Sync packs and directories before a commit. Default true. */
  fsync?: boolean;
  /** Stage blobs in a pack file (true) or as loose files (false). Default true. */
  stageInPacks?: boolean;
  /** Receives a warning for each pack that recovery truncates or removes. */
  log?: Logger;
}

/**
 * Pack ids in use, and the id of the pack that the next staging session appends to, or null for
 * a new pack. A session takes the appendable pack while it runs, so that two sessions never
 * append to one file.
 */
interface PackState {
  nextId: number;
  appendable: number | null;
}

/** Pack length at which a new staging session starts a new pack rather than append. */
const PACK_TARGET_BYTES = 256 * 1024 * 1024;

/** Newest packs searched for one to append to. Older ones are left, and a new pack is started. */
const MAX_PACKS_SEARCHED = 64;

/** Errors of link(2) that mean the file cannot be linked into the packs directory, so its bytes are copied instead. */
const LINK_UNSUPPORTED = ['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'];

/**
 * A BlobStore over two layouts in one store directory: loose blobs, one file each, and pack files
 * that contain many blobs, with their offsets in the `packed_blobs` table of the store's index.
 * Reads find a blob in either. Staging sessions append to a pack (or write loose files when
 * `stageInPacks` is false), so a commit costs one fdatasync of the pack and the SQLite commit,
 * however many blobs it adds.
 */
export class PackedBlobStore implements BlobStore {
  readonly location: string;
  readonly loose: LocalBlobStore;
  readonly packsDir: string;
  private readonly db: Database.Database;
  private readonly index: PackIndex;
  private readonly fsync: boolean;
  private readonly stageInPacks: boolean;
  private readonly log: Logger | undefined;
  /** Read from the index and the packs directory at the first pack session or recovery. */
  private packState: PackState | null = null;
  /** Pack magic found or not, by pack id, for each pack read so far. An adopted file has no magic and no record headers. */
  private readonly nativePacks = new Map<number, boolean>();

  constructor(options: PackedBlobStoreOptions) {
    this.loose = options.loose;
    this.packsDir = options.packsDir;
    this.location = `${options.loose.location} and ${options.packsDir}`;
    this.db = options.db;
    this.index = new PackIndex(options.db);
    this.fsync = options.fsync ?? true;
    this.stageInPacks = options.stageInPacks ?? true;
    this.log = options.log;
  }

  // An invalid hash finds no pack entry, so it reaches the loose store, which rejects it.
  async has(sha256: string): Promise<boolean> {
    return this.index.find(sha256) !== undefined || (await this.loose.has(sha256));
  }

  async get(sha256: string): Promise<Buffer> {
    const entry = this.index.find(sha256);
    return entry === undefined ? this.loose.get(sha256) : this.readPacked(entry);
  }

  /** Stores a single blob as a loose file, unless a pack has it already. */
  async put(bytes: Uint8Array, expectedSha256?: string): Promise<string> {
    const sha256 = this.loose.hashChecked(bytes, expectedSha256);
    if (this.index.find(sha256) !== undefined) return sha256;
    return this.loose.put(bytes, sha256);
  }

  /** Deletes a blob's loose file and its pack entry. The bytes of a packed blob stay in its pack file. */
  async delete(sha256: string): Promise<void> {
    this.index.delete(sha256);
    await this.loose.delete(sha256);
  }

  async *list(): AsyncIterable<string> {
    yield* this.loose.list();
    for (const sha256 of this.index.hashes()) {
      if (!(await this.loose.has(sha256))) yield sha256;
    }
  }

  async beginStaging(): Promise<BlobStaging> {
    if (!this.stageInPacks) return new LooseStagingBesidePacks(await this.loose.beginStaging(), this.loose, this.index);
    const state = await this.readPackState();
    const appendable = state.appendable;
    state.appendable = null;
    // Without a loose directory no blob can be loose, so the session skips one stat per blob. Only
    // this store writes loose blobs, under the writer lock, and not while a snapshot is built.
    const looseBlobsExist = await pathExists(this.loose.location);
    return new PackStaging({
      id: `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`,
      index: this.index,
      fsync: this.fsync,
      has: async (sha256) => this.index.find(sha256) !== undefined || (looseBlobsExist && (await this.loose.has(sha256))),
      hashChecked: (bytes, expected, options) => this.loose.hashChecked(bytes, expected, options),
      openWriter: () => this.openWriter(appendable),
      syncCreatedPack: () => fsyncDirectory(this.packsDir),
      adoptFile: (path) => this.adoptFile(path),
      onFinished: (writer, committed) => {
        if (writer === null) state.appendable ??= appendable;
        else if (committed) state.appendable = writer.size < PACK_TARGET_BYTES ? writer.id : null;
        else if (!writer.created) state.appendable ??= appendable;
      },
    });
  }

  /**
   * Rolls back the loose staging sessions as LocalBlobStore does, then brings every pack file back
   * to its committed length. Bytes after it are the tail of a session that did not commit, and a
   * pack file without a `blob_packs` row belongs to such a session alone, so it is removed.
   */
  async recoverStaging(isReferenced: (sha256: string) => boolean | Promise<boolean>): Promise<StagingRecovery> {
    const recovery = await this.loose.recoverStaging(isReferenced);
    const committed = new Map(this.index.packs().map((row) => [row.id, row.committed_bytes]));
    for (const name of (await readDirIfPresent(this.packsDir)).sort()) {
      const id = parsePackFileName(name);
      if (id === null) continue;
      const path = join(this.packsDir, name);
      const committedBytes = committed.get(id);
      committed.delete(id);
      if (committedBytes === undefined) {
        await unlink(path);
        this.log?.warn({ pack: path }, 'removed a pack file that no commit recorded, left by a writer that stopped');
        continue;
      }
      const { size } = await stat(path);
      if (size > committedBytes) {
        await truncate(path, committedBytes);
        this.log?.warn(
          { pack: path, bytes: size, committedBytes },
          'truncated the uncommitted tail of a pack file, left by a writer that stopped',
        );
      } else if (size < committedBytes) {
        this.log?.error(
          { pack: path, bytes: size, committedBytes },
          'pack file is shorter than its committed length, so the blobs after its end cannot be read until it is restored',
        );
      }
    }
    for (const id of committed.keys()) {
      const path = join(this.packsDir, packFileName(id));
      this.log?.error({ pack: path }, 'pack file of committed blobs is missing, so its blobs cannot be read until it is restored');
    }
    this.packState = null;
    await this.readPackState();
    return recovery;
  }

  /**
   * Reads the pack ids in use and picks the newest committed pack below PACK_TARGET_BYTES to append
   * to. A pack shorter than its committed length is damaged and gets no more records.
   */
  private async readPackState(): Promise<PackState> {
    if (this.packState !== null) return this.packState;
    const rows = this.index.packs();
    const fileIds = (await readDirIfPresent(this.packsDir)).map(parsePackFileName).filter((id) => id !== null);
    const nextId = Math.max(0, ...rows.map((row) => row.id), ...fileIds) + 1;
    const files = new Set(fileIds);
    let appendable: number | null = null;
    // The newest pack with the pack magic takes the appends. Adopted files have none, and records
    // appended to one would change a file that its writer may still read, so they are skipped.
    for (const row of rows.slice(-MAX_PACKS_SEARCHED).reverse()) {
      if (!files.has(row.id)) continue;
      const path = join(this.packsDir, packFileName(row.id));
      if (!(await fileStartsWithPackMagic(path))) continue;
      const { size } = await stat(path);
      if (size >= row.committed_bytes && size < PACK_TARGET_BYTES) appendable = row.id;
      break;
    }
    this.packState = { nextId, appendable };
    return this.packState;
  }

  private async openWriter(appendable: number | null): Promise<PackWriter> {
    if (appendable !== null) return PackWriter.append(appendable, join(this.packsDir, packFileName(appendable)));
    const state = await this.readPackState();
    await this.createPacksDir();
    for (;;) {
      const id = state.nextId;
      state.nextId += 1;
      try {
        return await PackWriter.create(id, join(this.packsDir, packFileName(id)));
      } catch (error) {
        // A file that another session created in the meantime keeps its id.
        if (!hasErrorCode(error, 'EEXIST')) throw error;
      }
    }
  }

  /**
   * Links a file into the packs directory under a new pack id, after syncing its bytes, so the
   * store reads blobs from it in place. Resolves to null where the file system cannot link it
   * there, so the caller copies the bytes.
   */
  private async adoptFile(path: string): Promise<AdoptedPack | null> {
    const state = await this.readPackState();
    await this.createPacksDir();
    let size: number;
    const handle = await open(path, 'r');
    try {
      if (this.fsync) await handle.datasync();
      size = (await handle.stat()).size;
    } finally {
      await handle.close();
    }
    for (;;) {
      const id = state.nextId;
      state.nextId += 1;
      const target = join(this.packsDir, packFileName(id));
      try {
        await link(path, target);
        return { id, path: target, size };
      } catch (error) {
        // A file that another session created in the meantime keeps its id.
        if (hasErrorCode(error, 'EEXIST')) continue;
        if (LINK_UNSUPPORTED.some((code) => hasErrorCode(error, code))) return null;
        throw new Error(`Linking ${path} into the packs directory as ${target} failed: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  private async createPacksDir(): Promise<void> {
    const created = await mkdir(this.packsDir, { recursive: true });
    if (created !== undefined && this.fsync) await fsyncDirectory(dirname(this.packsDir));
  }

  private async readPacked(entry: PackedBlobEntry): Promise<Buffer> {
    const { sha256, offset, length } = entry;
    const path = join(this.packsDir, packFileName(entry.pack));
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (hasErrorCode(error, 'ENOENT')) {
        throw new BlobError(
          'not-found',
          sha256,
          path,
          `Blob ${sha256} not found: its pack ${path} does not exist. Restore the pack file from a backup.`,
        );
      }
      throw error;
    }
    let headerBytes = 0;
    let record: Buffer;
    let bytesRead: number;
    try {
      // An adopted file has no record headers, so only the blob's bytes are read from it.
      headerBytes = (await this.isNativePack(entry.pack, handle)) ? RECORD_HEADER_BYTES : 0;
      record = Buffer.allocUnsafe(headerBytes + length);
      bytesRead = await readFully(handle, record, offset - headerBytes);
    } finally {
      await handle.close();
    }
    const header = record.subarray(0, headerBytes);
    const problem =
      bytesRead < record.length
        ? `the pack ends ${record.length - bytesRead} bytes before the end of the blob's record`
        : ((headerBytes > 0 ? findRecordHeaderMismatch(header, sha256, length) : null) ?? hashProblem(record.subarray(headerBytes), sha256));
    if (problem === null) return record.subarray(headerBytes);
    throw new BlobError(
      'corrupted',
      sha256,
      path,
      `Blob ${sha256} is corrupted in pack ${path} at offset ${offset} (${length} bytes): ${problem}. ` +
        `Restore ${path} from a backup, or delete the blob's entry with ` +
        `sqlite3 ${this.db.name} "DELETE FROM packed_blobs WHERE sha256 = '${sha256}'" and ingest its source again.`,
    );
  }

  /** Tells whether a pack starts with the pack magic, reading it once per pack. */
  private async isNativePack(id: number, handle: FileHandle): Promise<boolean> {
    let native = this.nativePacks.get(id);
    if (native === undefined) {
      native = await startsWithPackMagic(handle);
      this.nativePacks.set(id, native);
    }
    return native;
  }
}

/** Tells whether the file at `path` starts with the pack magic. */
async function fileStartsWithPackMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    return await startsWithPackMagic(handle);
  } finally {
    await handle.close();
  }
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return false;
    throw error;
  }
}

function hashProblem(bytes: Uint8Array, sha256: string): string | null {
  const actual = sha256Hex(bytes);
  return actual === sha256 ? null : `its bytes hash to ${actual}`;
}

/**
 * A loose staging session that skips blobs a pack already has, so that the two layouts store each
 * blob once.
 */
class LooseStagingBesidePacks implements BlobStaging {
  readonly id: string;
  private readonly inner: BlobStaging;
  private readonly loose: LocalBlobStore;
  private readonly index: PackIndex;

  constructor(inner: BlobStaging, loose: LocalBlobStore, index: PackIndex) {
    this.inner = inner;
    this.id = inner.id;
    this.loose = loose;
    this.index = index;
  }

  async put(bytes: Uint8Array, expectedSha256?: string, options?: BlobPutOptions): Promise<string> {
    const sha256 = this.loose.hashChecked(bytes, expectedSha256, options);
    if (this.index.find(sha256) !== undefined) return sha256;
    return this.inner.put(bytes, sha256, { hashVerified: true });
  }

  commit(record?: () => void | Promise<void>): Promise<void> {
    return this.inner.commit(record);
  }

  abort(): Promise<void> {
    return this.inner.abort();
  }
}

