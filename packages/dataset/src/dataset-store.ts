import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger, SampleRecord, SampleSource, SnapshotManifest, SnapshotStats, Split } from '@fieldloop/contracts';
import { BlobError } from './blob-error.ts';
import type { BlobStore, StagingRecovery } from './blob-store.ts';
import { DatasetStoreError } from './dataset-store-error.ts';
import { openIndexDatabase } from './index-schema.ts';
import { LocalBlobStore } from './local-blob-store.ts';
import { PackedBlobStore } from './packed-blob-store.ts';
import type { SampleBlobs } from './sample-validation.ts';
import { isSha256Hex } from './is-sha256-hex.ts';
import { SnapshotBuilder, snapshotRowToManifest } from './snapshot-builder.ts';
import { DEFAULT_SPLIT_RATIOS, validateSplitRatios, type SplitRatios } from './split-assigner.ts';
import type { FileLock } from './file-lock.ts';
import { acquireStoreLock } from './store-lock.ts';
import { sampleRowToRecord, StoreIndex, type SnapshotRow } from './store-index.ts';

/** File names inside a store directory. */
export const STORE_FILES = Object.freeze({
  index: 'index.sqlite',
  blobs: 'blobs',
  packs: 'packs',
  staging: 'staging',
  lock: 'lock',
});

export interface DatasetStoreOptions {
  /**
   * Split ratios for keys seen for the first time. A new store stores them (default train 0.8,
   * val 0.1, test 0.1). For an existing store they must equal the stored ratios. Change those
   * with `setSplitRatios`.
   */
  splitRatios?: SplitRatios;
  /** Open without the writer lock and without recovery. Snapshots cannot be built. Default false. */
  readOnly?: boolean;
  /** Flush blob files and directories to the disk before a snapshot commits. Default true. */
  fsync?: boolean;
  /**
   * Write each snapshot's new blobs into a pack file in `<dir>/packs`, so that a commit syncs one
   * file however many samples it adds. Default false: one file per blob in `<dir>/blobs`, two
   * syncs per blob. Reads find blobs in both layouts whatever this is set to. Cannot be combined
   * with `blobStore`.
   */
  packBlobs?: boolean;
  /**
   * Blob storage. Default: a PackedBlobStore over loose blobs in `<dir>/blobs` (staging in
   * `<dir>/staging`) and pack files in `<dir>/packs`.
   */
  blobStore?: BlobStore;
  /**
   * Runs after a snapshot's blobs are published and before its index rows are written. With
   * `packBlobs` it runs after the pack is synced, inside the transaction that records the pack
   * entries. Crash tests use it to stop the process at that point.
   */
  afterBlobsPublished?: () => void;
  /** Receives what recovery repairs, such as a truncated pack tail. Default: nothing is logged. */
  log?: Logger;
}

export interface SnapshotOptions {
  /** Free text that describes what produced the snapshot, for example the ingest command line. */
  note: string;
  /** `'latest'` (the default) builds on the newest snapshot, a number on that version, null on nothing. */
  parent?: 'latest' | number | null;
}

/** A snapshot, named by its version, its manifest hash, or `'latest'`. */
export type SnapshotRef = number | string;

/** A member of a snapshot: its record, its split, and the version that added it to the snapshot's history. */
export interface SnapshotSample extends SampleRecord {
  split: Split;
  addedIn: number;
}

export interface SampleFilter {
  split?: Split;
  /** Only samples that have every one of these tags. */
  tags?: readonly string[];
  /** Only samples that this snapshot version added. */
  addedIn?: number;
}

/** One place where a sample was seen. */
export interface SampleSighting {
  source: SampleSource;
  splitKey: string;
  imageSha256: string;
  /** The snapshot whose commit recorded this sighting. */
  firstVersion: number;
}

/** A sample with its bytes, as `createSnapshot` takes it. */
export interface NewSample extends SampleBlobs {
  record: SampleRecord;
}

/**
 * A versioned data set in a directory: a SQLite index in `index.sqlite` and content-addressed
 * blobs, as one file each in `blobs/` or inside pack files in `packs/`. One process writes at a
 * time, guarded by the `lock` file. Snapshots are immutable, and each one lists its members with
 * their split.
 */
export class DatasetStore {
  readonly dir: string;
  readonly readOnly: boolean;
  readonly blobs: BlobStore;
  private readonly index: StoreIndex;
  private readonly lock: FileLock | null;
  private readonly afterBlobsPublished: (() => void) | undefined;
  private builder: SnapshotBuilder | null = null;
  private closed = false;

  private constructor(
    dir: string,
    index: StoreIndex,
    blobs: BlobStore,
    lock: FileLock | null,
    options: DatasetStoreOptions,
  ) {
    this.dir = dir;
    this.index = index;
    this.blobs = blobs;
    this.lock = lock;
    this.readOnly = options.readOnly ?? false;
    this.afterBlobsPublished = options.afterBlobsPublished;
  }

  /**
   * Opens the store in `dir`, creating it when the directory is new or empty. A writer takes the
   * lock and then runs `recover()`. Throws a DatasetStoreError when another live process holds
   * the lock, the directory holds something other than a store, the store's schema is newer than
   * this code, or `splitRatios` differ from the stored ratios.
   */
  static async open(dir: string, options: DatasetStoreOptions = {}): Promise<DatasetStore> {
    const storeDir = resolve(dir);
    const readOnly = options.readOnly ?? false;
    const requestedRatios = options.splitRatios === undefined ? undefined : validateSplitRatios(options.splitRatios);
    if (options.packBlobs === true && options.blobStore !== undefined) {
      throw new RangeError(
        `Cannot open store ${storeDir} with both packBlobs and blobStore: pack files live in the store ` +
          'directory. Drop blobStore to write packs, or drop packBlobs to write through the given blob store.',
      );
    }
    if (!readOnly) {
      try {
        mkdirSync(storeDir, { recursive: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
        throw new DatasetStoreError(
          'not-a-store',
          storeDir,
          `Cannot open store ${storeDir}: it, or a folder above it, is a file and not a directory. Choose another store path.`,
          { cause: error },
        );
      }
    }

    const lock = readOnly ? null : acquireStoreLock(join(storeDir, STORE_FILES.lock), storeDir);
    let index: StoreIndex | null = null;
    try {
      if (!readOnly) checkCreatable(storeDir);
      const initialMeta = {
        split_ratios: JSON.stringify(requestedRatios ?? DEFAULT_SPLIT_RATIOS),
        created_at: new Date().toISOString(),
      };
      index = new StoreIndex(openIndexDatabase(join(storeDir, STORE_FILES.index), storeDir, readOnly, initialMeta));
      const storedRatios = readStoredRatios(index, storeDir);
      if (requestedRatios !== undefined && !sameRatios(requestedRatios, storedRatios)) {
        throw new DatasetStoreError(
          'split-ratios-mismatch',
          storeDir,
          `Store ${storeDir} assigns new split keys with ratios ${JSON.stringify(storedRatios)}, but ` +
            `${JSON.stringify(requestedRatios)} were requested. Open it without splitRatios, or call ` +
            'setSplitRatios() to change the ratios for keys seen from now on.',
        );
      }
      const blobs = options.blobStore ?? openLocalBlobs(storeDir, index, options);
      const store = new DatasetStore(storeDir, index, blobs, lock, options);
      if (!readOnly) await store.recover();
      return store;
    } catch (error) {
      index?.close();
      lock?.release();
      throw error;
    }
  }

  /** Ratios that decide the split of keys seen for the first time. */
  get splitRatios(): SplitRatios {
    this.checkOpen();
    return readStoredRatios(this.index, this.dir);
  }

  /**
   * Changes the ratios for split keys seen from now on. Keys seen before keep their split, so
   * no sample moves between splits.
   */
  setSplitRatios(ratios: SplitRatios): void {
    this.checkWritable('change the split ratios of');
    this.index.setMeta('split_ratios', JSON.stringify(validateSplitRatios(ratios)));
  }

  /**
   * Rolls back what an interrupted writer left: blobs that it published without committing its
   * index rows are deleted, its staging directories are removed, and pack files are truncated to
   * their committed length. `open()` runs it for writers.
   */
  async recover(): Promise<StagingRecovery> {
    this.checkWritable('recover');
    if (this.builder !== null) {
      throw new DatasetStoreError(
        'invalid-state',
        this.dir,
        `Cannot recover store ${this.dir} while a snapshot is being built. Commit or abort it first.`,
      );
    }
    try {
      return await this.blobs.recoverStaging((sha256) => this.index.isBlobReferenced(sha256));
    } finally {
      this.index.forgetBlobReferences();
    }
  }

  /**
   * Starts a snapshot. Only one snapshot can be built at a time. Throws a DatasetStoreError when
   * the store is read-only, another snapshot is being built, or the parent does not exist.
   */
  beginSnapshot(options: SnapshotOptions): SnapshotBuilder {
    this.checkWritable('build a snapshot in');
    if (this.builder !== null) {
      throw new DatasetStoreError(
        'invalid-state',
        this.dir,
        `Store ${this.dir} is already building a snapshot. Commit or abort it before starting another.`,
      );
    }
    if (typeof options.note !== 'string') {
      throw new DatasetStoreError('invalid-state', this.dir, `Snapshot note must be a string, got ${typeof options.note}.`);
    }
    const parent = this.resolveParent(options.parent === undefined ? 'latest' : options.parent);
    const builder = new SnapshotBuilder({
      storeDir: this.dir,
      index: this.index,
      beginStaging: () => this.blobs.beginStaging(),
      parent,
      note: options.note,
      splitRatios: () => readStoredRatios(this.index, this.dir),
      afterBlobsPublished: this.afterBlobsPublished,
      onFinished: () => {
        this.builder = null;
      },
    });
    this.builder = builder;
    return builder;
  }

  /** Builds a snapshot from samples in memory. On any error the store is left unchanged. */
  async createSnapshot(options: SnapshotOptions & { samples: Iterable<NewSample> }): Promise<SnapshotManifest> {
    const builder = this.beginSnapshot(options);
    try {
      for (const sample of options.samples) await builder.add(sample.record, sample);
    } catch (error) {
      await builder.abort();
      throw error;
    }
    return builder.commit();
  }

  listSnapshots(): SnapshotManifest[] {
    this.checkOpen();
    return this.index.allSnapshots().map(snapshotRowToManifest);
  }

  /** Returns the newest snapshot, or null when the store has none. */
  latestSnapshot(): SnapshotManifest | null {
    this.checkOpen();
    const row = this.index.latestSnapshot();
    return row === undefined ? null : snapshotRowToManifest(row);
  }

  /** Returns a snapshot's manifest. Throws a DatasetStoreError with code `snapshot-not-found` when it does not exist. */
  getSnapshot(ref: SnapshotRef): SnapshotManifest {
    this.checkOpen();
    return snapshotRowToManifest(this.findSnapshot(ref));
  }

  stats(ref: SnapshotRef): SnapshotStats {
    return this.getSnapshot(ref).stats;
  }

  /**
   * Iterates over a snapshot's members in ascending id order. The snapshot is looked up at the
   * call, so a missing one throws here and not at the first step. Other store methods may be
   * called while iterating.
   */
  samples(ref: SnapshotRef, filter: SampleFilter = {}): Generator<SnapshotSample> {
    this.checkOpen();
    const { version } = this.findSnapshot(ref);
    const rows = this.index.memberSamples(version, { split: filter.split, addedIn: filter.addedIn });
    const tags = filter.tags ?? [];
    return (function* filterByTags(): Generator<SnapshotSample> {
      for (const row of rows) {
        const record = sampleRowToRecord(row);
        if (tags.every((tag) => record.tags.includes(tag))) yield { ...record, split: row.split, addedIn: row.added_in };
      }
    })();
  }

  /** Tells whether the store has a sample with this id, in any snapshot. */
  hasSample(sampleId: string): boolean {
    this.checkOpen();
    return this.index.hasSample(sampleId);
  }

  /**
   * Runs `body` in one read transaction of the index, so the lookups it makes share the file
   * locks instead of taking them once each: `hasSample` calls, and the checks that
   * `SnapshotBuilder.add` makes before its first await. `body` must be synchronous.
   */
  reading<T>(body: () => T): T {
    this.checkOpen();
    return this.index.db.transaction(body).deferred();
  }

  /**
   * Lists every place a sample was seen, oldest first. Throws a DatasetStoreError with code
   * `sample-not-found` for an unknown id.
   */
  lineage(sampleId: string): SampleSighting[] {
    this.checkOpen();
    const rows = this.index.lineage(sampleId);
    if (rows.length === 0) {
      throw new DatasetStoreError(
        'sample-not-found',
        this.dir,
        `Sample ${sampleId} is not in store ${this.dir}. List the samples of a snapshot to find valid ids.`,
      );
    }
    return rows.map((row) => ({
      source: { recording: row.recording, topic: row.topic, logTimeNs: row.log_time_ns, file: row.file },
      splitKey: row.split_key,
      imageSha256: row.image_sha256,
      firstVersion: row.first_version,
    }));
  }

  /** Reads a sample's input bytes (raw RGB) and checks their sha256. */
  readInput(record: Pick<SampleRecord, 'id' | 'inputSha256'>): Promise<Buffer> {
    return this.readBlob(record.id, 'input', record.inputSha256);
  }

  /** Reads a sample's original encoded image and checks its sha256. */
  readImage(record: Pick<SampleRecord, 'id' | 'imageSha256'>): Promise<Buffer> {
    return this.readBlob(record.id, 'image', record.imageSha256);
  }

  /**
   * Closes the index and releases the lock. A snapshot still being built is aborted first.
   * Calling it twice does nothing.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.builder !== null) await this.builder.abort();
    this.closed = true;
    this.index.close();
    this.lock?.release();
  }

  private async readBlob(sampleId: string, kind: 'input' | 'image', sha256: string): Promise<Buffer> {
    this.checkOpen();
    if (!isSha256Hex(sha256)) {
      throw new DatasetStoreError(
        'blob-missing',
        this.dir,
        `Sample ${sampleId} has an invalid ${kind} hash ${JSON.stringify(sha256)}; expected 64 lowercase hex digits.`,
      );
    }
    try {
      return await this.blobs.get(sha256);
    } catch (error) {
      if (!(error instanceof BlobError)) throw error;
      if (error.code === 'corrupted') {
        throw new DatasetStoreError(
          'blob-corrupted',
          this.dir,
          `The ${kind} blob ${sha256} of sample ${sampleId} in store ${this.dir} is corrupted: ${error.message}`,
          { cause: error },
        );
      }
      throw new DatasetStoreError(
        'blob-missing',
        this.dir,
        `The ${kind} blob ${sha256} of sample ${sampleId} in store ${this.dir} cannot be read: ${error.message} ` +
          'Restore the store from a backup, or ingest the sample again.',
        { cause: error },
      );
    }
  }

  private resolveParent(parent: 'latest' | number | null): SnapshotRow | null {
    if (parent === null) return null;
    if (parent === 'latest') return this.index.latestSnapshot() ?? null;
    return this.findSnapshot(parent);
  }

  private findSnapshot(ref: SnapshotRef): SnapshotRow {
    let row: SnapshotRow | undefined;
    if (ref === 'latest') row = this.index.latestSnapshot();
    else if (typeof ref === 'number') row = Number.isSafeInteger(ref) ? this.index.snapshotByVersion(ref) : undefined;
    else if (isSha256Hex(ref)) row = this.index.snapshotByHash(ref);
    if (row !== undefined) return row;
    const latest = this.index.latestSnapshot();
    const known = latest === undefined ? 'it has no snapshots yet' : `its versions are 1 to ${latest.version}`;
    throw new DatasetStoreError(
      'snapshot-not-found',
      this.dir,
      `Snapshot ${JSON.stringify(ref)} not found in store ${this.dir}: ${known}. ` +
        "Name a snapshot by version number, by its 64-digit manifest hash, or as 'latest'.",
    );
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new DatasetStoreError(
        'invalid-state',
        this.dir,
        `Store ${this.dir} is closed. Open it again with DatasetStore.open().`,
      );
    }
  }

  private checkWritable(operation: string): void {
    this.checkOpen();
    if (this.readOnly) {
      throw new DatasetStoreError(
        'read-only',
        this.dir,
        `Cannot ${operation} store ${this.dir}: it was opened read-only. Open it without readOnly to write.`,
      );
    }
  }
}

/** Opens the default blob storage in the store directory: loose blobs and pack files. */
function openLocalBlobs(storeDir: string, index: StoreIndex, options: DatasetStoreOptions): PackedBlobStore {
  const fsync = options.fsync ?? true;
  return new PackedBlobStore({
    loose: new LocalBlobStore({
      blobsDir: join(storeDir, STORE_FILES.blobs),
      stagingDir: join(storeDir, STORE_FILES.staging),
      fsync,
    }),
    packsDir: join(storeDir, STORE_FILES.packs),
    db: index.db,
    fsync,
    stageInPacks: options.packBlobs ?? false,
    log: options.log,
  });
}

/** Rejects creating a store in a directory that has files but no index. */
function checkCreatable(storeDir: string): void {
  const isLockFile = (name: string): boolean => name === STORE_FILES.lock || name.startsWith(`${STORE_FILES.lock}.`);
  const entries = readdirSync(storeDir).filter((name) => !isLockFile(name));
  if (entries.length === 0 || entries.includes(STORE_FILES.index)) return;
  throw new DatasetStoreError(
    'not-a-store',
    storeDir,
    `${storeDir} is not a data set store: it has no ${STORE_FILES.index} but contains ${entries.slice(0, 3).join(', ')}` +
      `${entries.length > 3 ? ', …' : ''}. Choose an empty or new directory for a new store.`,
  );
}

function readStoredRatios(index: StoreIndex, storeDir: string): SplitRatios {
  const text = index.getMeta('split_ratios');
  try {
    if (text === undefined) throw new Error('the entry is missing');
    return validateSplitRatios(JSON.parse(text) as Record<string, unknown>);
  } catch (error) {
    throw new DatasetStoreError(
      'not-a-store',
      storeDir,
      `Store ${storeDir} has invalid split ratios in its meta table (${(error as Error).message}). ` +
        'Restore the index from a backup.',
      { cause: error },
    );
  }
}

function sameRatios(a: SplitRatios, b: SplitRatios): boolean {
  return a.train === b.train && a.val === b.val && a.test === b.test;
}
