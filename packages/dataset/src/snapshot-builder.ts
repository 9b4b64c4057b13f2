import {
  sha256Hex,
  type SampleRecord,
  type SampleSource,
  type SnapshotManifest,
  type SnapshotStats,
  type Split,
} from '@fieldloop/contracts';
import type { BlobStaging, FileBlob } from './blob-store.ts';
import { DatasetStoreError } from './dataset-store-error.ts';
import { readFileBlob } from './file-blob.ts';
import { computeManifestHash, type ManifestMember } from './manifest-hash.ts';
import { canonicalLabelsJson, findSampleRecordProblems, type SampleBlobs, type SampleFileBlobs } from './sample-validation.ts';
import { addToSnapshotStats, emptySnapshotStats, sortSnapshotStats } from './snapshot-stats.ts';
import { assignSplit, type SplitRatios } from './split-assigner.ts';
import { sampleRowToRecord, type SampleRow, type Sighting, type SnapshotRow, type SnapshotWrite, type StoreIndex } from './store-index.ts';

/** Store state and callbacks that a snapshot builder uses. */
export interface SnapshotBuilderContext {
  storeDir: string;
  index: StoreIndex;
  /** Starts the blob staging session. The builder calls it at its first `add`. */
  beginStaging: () => Promise<BlobStaging>;
  /** The parent snapshot, or null for a snapshot without parent. */
  parent: SnapshotRow | null;
  note: string;
  /** Split ratios for keys seen for the first time, read at commit. */
  splitRatios: () => SplitRatios;
  /** Runs between publishing the blobs and writing the index rows. */
  afterBlobsPublished: (() => void) | undefined;
  /** Called once when the builder has committed or aborted. */
  onFinished: () => void;
}

/** A sample added to the builder, with every place it was seen. */
interface PendingSample {
  record: SampleRecord;
  labelsJson: string;
  /** The index row of the sample when the store had it before this snapshot. */
  stored: SampleRow | undefined;
  sightings: Map<string, Sighting>;
}

type BuilderState = 'open' | 'committing' | 'committed' | 'aborted';

/** Options of `SnapshotBuilder.add`. */
export interface AddSampleOptions {
  /**
   * sha256 of `blobs.image` and `blobs.input`, for a caller that computed them over these same
   * bytes already, such as one that checked them when the bytes arrived and read them back
   * through its own checksum. The builder then checks only that they equal the record's
   * `imageSha256` and `inputSha256`, and does not hash the bytes. Without it the builder hashes
   * both blobs. Required when the blobs are given as `SampleFileBlobs`.
   */
  verifiedSha256?: { image: string; input: string };
}

function isFileBlob(blob: Uint8Array | FileBlob): blob is FileBlob {
  return !(blob instanceof Uint8Array);
}

/**
 * Builds one snapshot: the parent's members plus the samples added here. Blob writes are staged
 * and index rows are written at commit, so until `commit()` resolves the store reads as before,
 * and `abort()` or a crash leaves it unchanged. A store has at most one open builder.
 */
export class SnapshotBuilder {
  /** Version of the parent snapshot, or null for a snapshot without parent. */
  readonly parentVersion: number | null;
  private readonly context: SnapshotBuilderContext;
  // NOTE: pending records stay in memory until commit, roughly 1 KB per distinct sample, so an
  // ingest of millions of samples needs gigabytes of heap.
  private readonly pending = new Map<string, PendingSample>();
  /** The staging session, started by the first `add`. */
  private staging: Promise<BlobStaging> | null = null;
  private state: BuilderState = 'open';
  private writesInFlight = 0;
  /** First blob write that failed. The builder cannot commit after one. */
  private writeFailure: unknown = null;

  constructor(context: SnapshotBuilderContext) {
    this.context = context;
    this.parentVersion = context.parent?.version ?? null;
  }

  /** Distinct samples added so far. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Adds a sample and stages its blobs. A sample whose id was added before, here or in an
   * earlier snapshot, is stored once, and its new source is added to its lineage. Throws a
   * DatasetStoreError with code `invalid-sample` for an invalid record or bytes that do not match
   * its hashes, and `sample-conflict` for an id that is already used by different content. Both
   * are raised before anything is written, so the builder stays usable. When a blob write fails,
   * the builder can only abort. `options.verifiedSha256` replaces the hashing of the blobs.
   * Blobs given as `SampleFileBlobs` are staged from their files, which a packed store adopts as
   * packs without copying them (`BlobStaging.putFile`); they need `options.verifiedSha256`.
   */
  async add(record: SampleRecord, blobs: SampleBlobs | SampleFileBlobs, options: AddSampleOptions = {}): Promise<void> {
    this.checkOpen('add a sample to');
    const inFiles = isFileBlob(blobs.input) || isFileBlob(blobs.image);
    if (inFiles && options.verifiedSha256 === undefined) {
      throw this.error('invalid-state', `add() of sample ${String(record.id)} got its blobs as files but no verifiedSha256; hash the bytes and pass both hashes.`);
    }
    this.validate(record, blobs, options.verifiedSha256);
    const labelsJson = canonicalLabelsJson(record.labels);
    const stored = this.checkConsistent(record, labelsJson);

    this.writesInFlight += 1;
    try {
      this.staging ??= this.context.beginStaging();
      const staging = await this.staging;
      // `validate` checked both hashes against the bytes, or against the caller's verified ones.
      await stageBlob(staging, blobs.input, record.inputSha256);
      await stageBlob(staging, blobs.image, record.imageSha256);
    } catch (error) {
      this.writeFailure ??= error;
      throw new DatasetStoreError(
        'write-failed',
        this.context.storeDir,
        `Staging the blobs of sample ${record.id} from ${describeSource(record.source)} in store ` +
          `${this.context.storeDir} failed: ${(error as Error).message}. Call abort() on this snapshot.`,
        { cause: error },
      );
    } finally {
      this.writesInFlight -= 1;
    }

    let entry = this.pending.get(record.id);
    if (entry === undefined) {
      entry = { record, labelsJson, stored, sightings: new Map() };
      this.pending.set(record.id, entry);
    }
    const { source } = record;
    const sightingKey = JSON.stringify([source.recording, source.topic, source.logTimeNs ?? '', source.file]);
    if (!entry.sightings.has(sightingKey)) {
      entry.sightings.set(sightingKey, {
        sampleId: record.id,
        source: { ...source },
        splitKey: record.splitKey,
        imageSha256: record.imageSha256,
      });
    }
  }

  /**
   * Publishes the staged blobs and writes the snapshot's rows in one SQLite transaction, then
   * returns its manifest. A snapshot that adds nothing new to its parent is still created, with
   * `added: 0`, so that every ingest is recorded. Throws a DatasetStoreError with code
   * `snapshot-exists`, before writing anything, when a snapshot with the same members and parent
   * exists. After any error the builder is aborted and the store is unchanged.
   */
  async commit(): Promise<SnapshotManifest> {
    this.checkOpen('commit');
    if (this.writesInFlight > 0) {
      throw this.error('invalid-state', 'commit() was called while add() calls are still running. Await every add() first.');
    }
    if (this.writeFailure !== null) {
      throw this.error(
        'invalid-state',
        `an earlier add() failed to stage its blobs (${(this.writeFailure as Error).message}). Call abort() and ingest again.`,
      );
    }
    this.state = 'committing';
    try {
      // One read transaction for every lookup of the plan, instead of a lock round each.
      const write = this.context.index.db.transaction(() => this.planWrite()).deferred();
      const writeRows = (): void => {
        this.context.afterBlobsPublished?.();
        this.context.index.writeSnapshot(write);
      };
      if (this.staging === null) writeRows();
      else await (await this.staging).commit(writeRows);
      this.state = 'committed';
      return snapshotRowToManifest(write.snapshot);
    } catch (error) {
      this.state = 'aborted';
      // NOTE: a failure to remove the staged files is not reported over the commit error,
      // because recovery removes them when the store is next opened.
      await this.abortStaging().catch(() => undefined);
      if (error instanceof DatasetStoreError) throw error;
      throw new DatasetStoreError(
        'write-failed',
        this.context.storeDir,
        `Committing a snapshot to store ${this.context.storeDir} failed: ${(error as Error).message}. ` +
          'The snapshot was rolled back and the store is unchanged; fix the cause and ingest again.',
        { cause: error },
      );
    } finally {
      this.context.onFinished();
    }
  }

  /** Discards the staged blobs. The store stays as it was. Does nothing after commit or abort. */
  async abort(): Promise<void> {
    if (this.state === 'committed' || this.state === 'aborted') return;
    if (this.state === 'committing') {
      throw this.error('invalid-state', 'abort() was called while commit() is running. Await the commit.');
    }
    this.state = 'aborted';
    try {
      await this.abortStaging();
    } finally {
      this.context.onFinished();
    }
  }

  private async abortStaging(): Promise<void> {
    if (this.staging === null) return;
    const staging = await this.staging.catch(() => null);
    await staging?.abort();
  }

  /** Checks the record and the blobs' hashes; `verified` is required for blobs in files, as `add` checks. */
  private validate(record: SampleRecord, blobs: SampleBlobs | SampleFileBlobs, verified: AddSampleOptions['verifiedSha256']): void {
    const problems = findSampleRecordProblems(record, blobs.input);
    if (problems.length === 0) {
      const origin = verified === undefined ? 'bytes hash to' : 'verified hash is';
      const inputHash = verified?.input ?? sha256Hex(blobs.input as Uint8Array);
      if (inputHash !== record.inputSha256) {
        problems.push(`input ${origin} ${inputHash}, not inputSha256 ${record.inputSha256}`);
      }
      const imageHash = verified?.image ?? sha256Hex(blobs.image as Uint8Array);
      if (imageHash !== record.imageSha256) {
        problems.push(`image ${origin} ${imageHash}, not imageSha256 ${record.imageSha256}`);
      }
    }
    if (problems.length > 0) {
      const hasSource = typeof record.source === 'object' && record.source !== null;
      const source = hasSource ? describeSource(record.source) : 'an unknown source';
      throw new DatasetStoreError(
        'invalid-sample',
        this.context.storeDir,
        `Invalid sample ${String(record.id)} from ${source}: ${problems.join('; ')}. ` +
          `Nothing was written to store ${this.context.storeDir}; fix the record and add it again.`,
      );
    }
  }

  /**
   * Checks that an id already added here or stored earlier has the same content, and returns the
   * stored row. The index cannot change while this builder is open, because the store holds its
   * lock and has one builder at a time, so the row stays valid until commit.
   */
  private checkConsistent(record: SampleRecord, labelsJson: string): SampleRow | undefined {
    const earlier = this.pending.get(record.id);
    const stored = earlier === undefined ? this.context.index.sample(record.id) : earlier.stored;
    const known = earlier?.record ?? (stored === undefined ? undefined : sampleRowToRecord(stored));
    if (known === undefined) return stored;
    const knownLabels = earlier?.labelsJson ?? canonicalLabelsJson(known.labels);
    const differences: string[] = [];
    if (known.inputSha256 !== record.inputSha256) {
      differences.push(`inputSha256 ${known.inputSha256} vs ${record.inputSha256}`);
    }
    if (known.width !== record.width || known.height !== record.height) {
      differences.push(`size ${known.width}x${known.height} vs ${record.width}x${record.height}`);
    }
    if (knownLabels !== labelsJson) differences.push(`labels ${knownLabels} vs ${labelsJson}`);
    if (JSON.stringify(known.tags) !== JSON.stringify(record.tags)) {
      differences.push(`tags ${JSON.stringify(known.tags)} vs ${JSON.stringify(record.tags)}`);
    }
    if (differences.length === 0) return stored;
    throw new DatasetStoreError(
      'sample-conflict',
      this.context.storeDir,
      `Sample ${record.id} from ${describeSource(record.source)} has the id of a different sample first seen in ` +
        `${describeSource(known.source)} (${differences.join('; ')}). Nothing was written. A sample id must be the ` +
        'sha256 over the input hash, the labels and the tags; check how the id was computed.',
    );
  }

  /** Works out every row of the snapshot: splits, members, manifest hash and statistics. */
  private planWrite(): SnapshotWrite {
    const { index, parent } = this.context;
    const parentVersion = parent?.version ?? null;
    const version = (index.latestSnapshot()?.version ?? 0) + 1;
    const ratios = this.context.splitRatios();

    const newSplitKeys = new Map<string, Split>();
    const storedSplitKeys = new Map<string, Split>();
    const splitOfKey = (key: string): Split => {
      let known = newSplitKeys.get(key) ?? storedSplitKeys.get(key);
      if (known !== undefined) return known;
      known = index.splitOfKey(key);
      if (known !== undefined) {
        storedSplitKeys.set(key, known);
        return known;
      }
      const split = assignSplit(key, ratios);
      newSplitKeys.set(key, split);
      return split;
    };

    const stats: SnapshotStats = parent === null ? emptySnapshotStats() : (JSON.parse(parent.stats) as SnapshotStats);
    const samples: SampleRecord[] = [];
    const sightings: Sighting[] = [];
    const addedMembers: Array<ManifestMember & { addedIn: number }> = [];
    for (const id of [...this.pending.keys()].sort()) {
      const entry = this.pending.get(id) as PendingSample;
      for (const sighting of entry.sightings.values()) {
        splitOfKey(sighting.splitKey);
        sightings.push(sighting);
      }
      const { stored } = entry;
      if (stored === undefined) samples.push(entry.record);
      // Only a stored sample can be a member of the parent.
      if (stored !== undefined && parentVersion !== null && index.member(parentVersion, id) !== undefined) continue;

      // A sample keeps the split of the key it was first stored with, in every snapshot.
      const split = splitOfKey(stored?.split_key ?? entry.record.splitKey);
      addedMembers.push({ id, split, addedIn: version });
      addToSnapshotStats(stats, stored === undefined ? entry.record : sampleRowToRecord(stored), split);
    }

    const parentHash = parent?.manifest_hash ?? null;
    // `pending` was read in id order, so the added members are too.
    const manifestHash = computeManifestHash(addedMembers, parentHash);
    const existing = index.snapshotByHash(manifestHash);
    if (existing !== undefined) {
      throw this.error(
        'snapshot-exists',
        `snapshot ${existing.version} already has the same members and parent (manifest ${manifestHash}), so nothing ` +
          `was written. Build on it with parent 'latest' or ${existing.version}, or use snapshot ${existing.version} as it is.`,
      );
    }

    const snapshot: SnapshotRow = {
      version,
      manifest_hash: manifestHash,
      parent_hash: parentHash,
      created_at: new Date().toISOString(),
      note: this.context.note,
      added: addedMembers.length,
      stats: JSON.stringify(sortSnapshotStats(stats)),
    };
    const splitKeys = [...newSplitKeys].map(([key, split]) => ({ key, split }));
    return { snapshot, splitKeys, samples, sightings, addedMembers };
  }

  private checkOpen(operation: string): void {
    if (this.state !== 'open') throw this.error('invalid-state', `cannot ${operation} a snapshot that is ${this.state}.`);
  }

  private error(code: 'invalid-state' | 'snapshot-exists', detail: string): DatasetStoreError {
    const parent = this.parentVersion === null ? 'without parent' : `on parent ${this.parentVersion}`;
    const message = `Snapshot ${parent} in store ${this.context.storeDir}: ${detail}`;
    return new DatasetStoreError(code, this.context.storeDir, message);
  }
}

/** Stages one blob whose hash was checked: from its file where the session can take it in place, otherwise as bytes. */
async function stageBlob(staging: BlobStaging, blob: Uint8Array | FileBlob, sha256: string): Promise<void> {
  if (!isFileBlob(blob)) await staging.put(blob, sha256, { hashVerified: true });
  else if (staging.putFile !== undefined) await staging.putFile(blob, sha256);
  else await staging.put(await readFileBlob(blob), sha256, { hashVerified: true });
}

/** Builds the manifest of a snapshot from the row that stores it. */
export function snapshotRowToManifest(row: SnapshotRow): SnapshotManifest {
  return {
    version: row.version,
    manifestHash: row.manifest_hash,
    parentHash: row.parent_hash,
    createdAt: row.created_at,
    note: row.note,
    added: row.added,
    stats: JSON.parse(row.stats) as SnapshotStats,
  };
}

function describeSource(source: SampleSource): string {
  const time = source.logTimeNs === null ? '' : ` at ${source.logTimeNs} ns`;
  return `${source.recording} ${source.topic}${time} (${source.file})`;
}
