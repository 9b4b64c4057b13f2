import { randomBytes } from 'node:crypto';
import { sha256Hex } from '@fieldloop/contracts';
import { mkdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobError } from './blob-error.ts';
import type { BlobPutOptions, BlobStaging, BlobStore, StagingRecovery } from './blob-store.ts';
import { fsyncDirectory, hasErrorCode, readDirIfPresent, replaceFile, writeNewFile } from './durable-file.ts';
import { isSha256Hex } from './is-sha256-hex.ts';
import { stageOnce } from './stage-once.ts';

export interface LocalBlobStoreOptions {
  /** Directory of the published blobs, as `<blobsDir>/ab/cdef…` for the hash `abcdef…`. */
  blobsDir: string;
  /**
   * Directory of staging sessions and temporary files. It must be on the same filesystem as
   * `blobsDir`, because blobs are published with rename.
   */
  stagingDir: string;
  /** Flush files and directories to the disk before they count as written. Default true. */
  fsync?: boolean;
}

/** Name of the file that lists a session's blobs while they are being published. */
const PUBLISH_JOURNAL = 'publish.json';

const FAN_OUT_DIR = /^[0-9a-f]{2}$/;
const FAN_OUT_FILE = /^[0-9a-f]{62}$/;

/**
 * A BlobStore in a local directory. Every write goes to a temporary file in the staging
 * directory, is flushed, and is renamed into place, so a blob file is always complete.
 */
export class LocalBlobStore implements BlobStore {
  readonly location: string;
  readonly stagingDir: string;
  readonly fsync: boolean;
  /** Fan-out directories known to exist, so that each is created and flushed once. */
  private readonly knownDirs = new Set<string>();

  constructor(options: LocalBlobStoreOptions) {
    this.location = options.blobsDir;
    this.stagingDir = options.stagingDir;
    this.fsync = options.fsync ?? true;
  }

  /** Returns the file path of a blob, whether or not it exists. */
  pathOf(sha256: string): string {
    this.checkHash(sha256);
    return join(this.location, sha256.slice(0, 2), sha256.slice(2));
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(sha256))).isFile();
    } catch (error) {
      if (hasErrorCode(error, 'ENOENT')) return false;
      throw error;
    }
  }

  async get(sha256: string): Promise<Buffer> {
    const path = this.pathOf(sha256);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if (hasErrorCode(error, 'ENOENT')) {
        throw new BlobError('not-found', sha256, path, `Blob ${sha256} not found: ${path} does not exist.`);
      }
      throw error;
    }
    const actual = sha256Hex(bytes);
    if (actual !== sha256) {
      throw new BlobError(
        'corrupted',
        sha256,
        path,
        `Blob ${sha256} is corrupted: ${path} hashes to ${actual}. ` +
          'Restore the file from a backup, or delete it and ingest its source again.',
      );
    }
    return bytes;
  }

  async put(bytes: Uint8Array, expectedSha256?: string): Promise<string> {
    const sha256 = this.hashChecked(bytes, expectedSha256);
    if (await this.has(sha256)) return sha256;
    await mkdir(this.stagingDir, { recursive: true });
    const temporary = join(this.stagingDir, `put-${uniqueSuffix()}.tmp`);
    await writeNewFile(temporary, bytes, this.fsync);
    try {
      await this.publishFile(temporary, sha256);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return sha256;
  }

  async delete(sha256: string): Promise<void> {
    try {
      await unlink(this.pathOf(sha256));
    } catch (error) {
      if (!hasErrorCode(error, 'ENOENT')) throw error;
    }
  }

  async *list(): AsyncIterable<string> {
    const fanOutDirs = await readDirIfPresent(this.location);
    for (const prefix of fanOutDirs.sort()) {
      if (!FAN_OUT_DIR.test(prefix)) continue;
      const names = await readDirIfPresent(join(this.location, prefix));
      for (const name of names.sort()) {
        if (FAN_OUT_FILE.test(name)) yield prefix + name;
      }
    }
  }

  async beginStaging(): Promise<BlobStaging> {
    const id = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const dir = join(this.stagingDir, id);
    await mkdir(dir, { recursive: true });
    return new LocalBlobStaging(this, id, dir);
  }

  async recoverStaging(isReferenced: (sha256: string) => boolean | Promise<boolean>): Promise<StagingRecovery> {
    const recovery: StagingRecovery = { sessions: 0, deletedBlobs: [] };
    const names = await readDirIfPresent(this.stagingDir);
    for (const name of names.sort()) {
      const path = join(this.stagingDir, name);
      const published = await readPublishJournal(path);
      for (const sha256 of published) {
        if ((await this.has(sha256)) && !(await isReferenced(sha256))) {
          await this.delete(sha256);
          recovery.deletedBlobs.push(sha256);
        }
      }
      // The journal goes with the directory, so it is removed only after the blobs it lists.
      await rm(path, { recursive: true, force: true });
      recovery.sessions += 1;
    }
    return recovery;
  }

  /**
   * Computes the hash of bytes and checks it against the expected one, if any. With
   * `hashVerified` it returns the expected hash after checking only its form, as
   * `BlobStaging.put` documents.
   */
  hashChecked(bytes: Uint8Array, expectedSha256: string | undefined, options: BlobPutOptions = {}): string {
    if (options.hashVerified === true && expectedSha256 !== undefined) {
      this.checkHash(expectedSha256);
      return expectedSha256;
    }
    const sha256 = sha256Hex(bytes);
    if (expectedSha256 !== undefined && sha256 !== expectedSha256) {
      throw new BlobError(
        'hash-mismatch',
        expectedSha256,
        this.location,
        `Blob bytes hash to ${sha256}, not the expected ${expectedSha256}; nothing was written. ` +
          'Check that the hash was computed over the same bytes.',
      );
    }
    return sha256;
  }

  /**
   * Renames a complete, flushed file to the blob's path, creating its fan-out directory when
   * needed. Returns the directories whose entries changed, which the caller flushes.
   */
  async moveIntoPlace(source: string, sha256: string): Promise<string[]> {
    const target = this.pathOf(sha256);
    const fanOutDir = join(this.location, sha256.slice(0, 2));
    const changed = [fanOutDir];
    if (!this.knownDirs.has(fanOutDir)) {
      const created = await mkdir(fanOutDir, { recursive: true });
      if (created !== undefined) changed.push(this.location);
      this.knownDirs.add(fanOutDir);
    }
    try {
      await rename(source, target);
    } catch (error) {
      if (hasErrorCode(error, 'EXDEV')) {
        throw new Error(
          `Cannot move ${source} to ${target}: the staging directory ${this.stagingDir} is on another ` +
            `filesystem than ${this.location}. Put both on the same filesystem.`,
        );
      }
      throw error;
    }
    return changed;
  }

  /** Flushes the given directories' entries when fsync is enabled. */
  async flushDirectories(dirs: Iterable<string>): Promise<void> {
    if (!this.fsync) return;
    for (const dir of new Set(dirs)) await fsyncDirectory(dir);
  }

  private async publishFile(source: string, sha256: string): Promise<void> {
    await this.flushDirectories(await this.moveIntoPlace(source, sha256));
  }

  private checkHash(sha256: string): void {
    if (!isSha256Hex(sha256)) {
      throw new BlobError(
        'invalid-hash',
        String(sha256),
        this.location,
        `Invalid blob hash ${JSON.stringify(sha256)}: expected 64 lowercase hex digits of a sha256.`,
      );
    }
  }
}

type StagingState = 'open' | 'committing' | 'committed' | 'aborted';

/** A staging session of a LocalBlobStore, kept in `<stagingDir>/<id>/` as `<sha256>` files. */
class LocalBlobStaging implements BlobStaging {
  readonly id: string;
  private readonly store: LocalBlobStore;
  private readonly dir: string;
  /** Writes by hash. Each resolves to true when it staged a file and false when the store had the blob. */
  private readonly writes = new Map<string, Promise<boolean>>();
  private state: StagingState = 'open';

  constructor(store: LocalBlobStore, id: string, dir: string) {
    this.store = store;
    this.id = id;
    this.dir = dir;
  }

  async put(bytes: Uint8Array, expectedSha256?: string, options?: BlobPutOptions): Promise<string> {
    this.checkOpen('put');
    const sha256 = this.store.hashChecked(bytes, expectedSha256, options);
    await stageOnce(this.writes, sha256, () => this.stage(sha256, bytes));
    return sha256;
  }

  async commit(record?: () => void | Promise<void>): Promise<void> {
    this.checkOpen('commit');
    this.state = 'committing';
    let published: string[] = [];
    try {
      published = await this.publish();
      if (record !== undefined) await record();
    } catch (error) {
      await this.rollBackAfterFailure(published, error);
      throw error;
    }
    this.state = 'committed';
    // NOTE: a failure to remove the finished session is not reported, because the blobs are
    // committed. The next recoverStaging removes the directory and keeps its referenced blobs.
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    if (this.state === 'committing') {
      throw new Error(`Cannot abort staging session ${this.id} while its commit is running; await the commit.`);
    }
    this.state = 'aborted';
    await Promise.allSettled(this.writes.values());
    await rm(this.dir, { recursive: true, force: true });
  }

  private async stage(sha256: string, bytes: Uint8Array): Promise<boolean> {
    if (await this.store.has(sha256)) return false;
    const temporary = join(this.dir, `${sha256}.tmp-${uniqueSuffix()}`);
    await writeNewFile(temporary, bytes, this.store.fsync);
    await rename(temporary, join(this.dir, sha256));
    return true;
  }

  /**
   * Moves the staged files into the store after writing a journal of the hashes that the store
   * lacks. Returns those hashes: the blobs this commit added.
   */
  private async publish(): Promise<string[]> {
    const staged: string[] = [];
    for (const [sha256, write] of this.writes) {
      if (await write) staged.push(sha256);
    }
    const added: string[] = [];
    for (const sha256 of staged.sort()) {
      if (await this.store.has(sha256)) await unlink(join(this.dir, sha256));
      else added.push(sha256);
    }
    if (added.length === 0) return added;

    await replaceFile(join(this.dir, PUBLISH_JOURNAL), JSON.stringify({ blobs: added }), this.store.fsync);
    await this.store.flushDirectories([this.dir]);
    const changedDirs: string[] = [];
    const moved: string[] = [];
    try {
      for (const sha256 of added) {
        changedDirs.push(...(await this.store.moveIntoPlace(join(this.dir, sha256), sha256)));
        moved.push(sha256);
      }
      await this.store.flushDirectories(changedDirs);
    } catch (error) {
      await this.rollBackAfterFailure(moved, error);
      throw error;
    }
    return added;
  }

  /**
   * Deletes the blobs that a failed commit published, then the session. If that fails too, the
   * journal stays, so recoverStaging can finish the roll-back, and the error names both causes.
   */
  private async rollBackAfterFailure(published: readonly string[], cause: unknown): Promise<void> {
    this.state = 'aborted';
    try {
      for (const sha256 of published) await this.store.delete(sha256);
      await rm(this.dir, { recursive: true, force: true });
    } catch (rollBackError) {
      throw new Error(
        `Commit of staging session ${this.id} failed (${errorText(cause)}), and removing its published ` +
          `blobs failed too (${errorText(rollBackError)}). Run recoverStaging before the next write.`,
        { cause },
      );
    }
  }

  private checkOpen(operation: string): void {
    if (this.state !== 'open') {
      throw new Error(`Cannot ${operation} in staging session ${this.id}: it is already ${this.state}.`);
    }
  }
}

/** Reads the hashes listed in a session's publish journal. An entry without a journal lists none. */
async function readPublishJournal(sessionPath: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(sessionPath, PUBLISH_JOURNAL), 'utf8');
  } catch (error) {
    // ENOTDIR: a stray temporary file at the top level of the staging directory.
    if (hasErrorCode(error, 'ENOENT') || hasErrorCode(error, 'ENOTDIR')) return [];
    throw error;
  }
  let blobs: unknown;
  try {
    blobs = (JSON.parse(text) as { blobs?: unknown } | null)?.blobs;
  } catch {
    blobs = undefined;
  }
  if (!Array.isArray(blobs)) {
    throw new Error(`Invalid publish journal in ${sessionPath}: it has no "blobs" list. Inspect it and remove it by hand.`);
  }
  return blobs.filter(isSha256Hex);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function uniqueSuffix(): string {
  return `${process.pid}-${randomBytes(6).toString('hex')}`;
}
