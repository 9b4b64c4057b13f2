import type { LabelValue, SampleRecord, SampleSource, Split } from '@fieldloop/contracts';
import type Database from 'better-sqlite3';
import type { ManifestMember } from './manifest-hash.ts';
import { DELTA_MEMBERSHIP_SCHEMA_VERSION, dropBlobHashIndexes, useDeltaMembership } from './index-schema.ts';
import { canonicalLabelsJson } from './sample-validation.ts';

/** A row of the `snapshots` table. */
export interface SnapshotRow {
  version: number;
  manifest_hash: string;
  parent_hash: string | null;
  created_at: string;
  note: string;
  added: number;
  stats: string;
}

/** A row of the `samples` table. */
export interface SampleRow {
  id: string;
  image_sha256: string;
  input_sha256: string;
  width: number;
  height: number;
  labels: string;
  tags: string;
  recording: string;
  topic: string;
  log_time_ns: string | null;
  file: string;
  split_key: string;
  first_version: number;
}

/** A row of `snapshot_samples` joined with its `samples` row. */
export interface MemberSampleRow extends SampleRow {
  split: Split;
  added_in: number;
}

/** A row of the `lineage` table. */
export interface LineageRow {
  sample_id: string;
  recording: string;
  topic: string;
  log_time_ns: string | null;
  file: string;
  split_key: string;
  image_sha256: string;
  first_version: number;
}

/** One place where a sample was seen, as a snapshot commit records it. */
export interface Sighting {
  sampleId: string;
  source: SampleSource;
  splitKey: string;
  imageSha256: string;
}

/** Everything one snapshot commit writes. */
export interface SnapshotWrite {
  snapshot: SnapshotRow;
  /** Split keys seen for the first time. */
  splitKeys: Array<{ key: string; split: Split }>;
  /** Samples not yet in the `samples` table, with their first sighting as source. */
  samples: SampleRecord[];
  sightings: Sighting[];
  /** Members that the parent does not have; the snapshot's other members are its parent's. */
  addedMembers: Array<ManifestMember & { addedIn: number }>;
}

export interface MemberFilter {
  split?: Split;
  addedIn?: number;
}

/** Rows per query when paging through a snapshot's members. */
const PAGE_SIZE = 1000;

/** The SQL queries of a store's index, as prepared statements. */
export class StoreIndex {
  readonly db: Database.Database;
  /** Statements by SQL text, prepared once, because preparing costs more than running most queries. */
  private readonly statements = new Map<string, Database.Statement>();
  /** The ancestry that `readAncestry` read last. */
  private lastAncestry: { version: number; versions: number[]; set: Set<number> } | null = null;
  /** True while the temporary table of `isBlobReferenced` exists. */
  private blobReferencesLoaded = false;

  constructor(db: Database.Database) {
    this.db = db;
  }

  getMeta(key: string): string | undefined {
    return this.prepare<[string], string>('SELECT value FROM meta WHERE key = ?').pluck().get(key);
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(key, value);
  }

  snapshotByVersion(version: number): SnapshotRow | undefined {
    return this.prepare<[number], SnapshotRow>('SELECT * FROM snapshots WHERE version = ?').get(version);
  }

  snapshotByHash(manifestHash: string): SnapshotRow | undefined {
    return this.prepare<[string], SnapshotRow>('SELECT * FROM snapshots WHERE manifest_hash = ?').get(manifestHash);
  }

  latestSnapshot(): SnapshotRow | undefined {
    return this.prepare<[], SnapshotRow>('SELECT * FROM snapshots ORDER BY version DESC LIMIT 1').get();
  }

  allSnapshots(): SnapshotRow[] {
    return this.prepare<[], SnapshotRow>('SELECT * FROM snapshots ORDER BY version').all();
  }

  sample(id: string): SampleRow | undefined {
    return this.prepare<[string], SampleRow>('SELECT * FROM samples WHERE id = ?').get(id);
  }

  /** Tells whether the `samples` table has the id, without reading the row. */
  hasSample(id: string): boolean {
    return this.prepare<[string], number>('SELECT 1 FROM samples WHERE id = ?').pluck().get(id) !== undefined;
  }

  splitOfKey(key: string): Split | undefined {
    return this.prepare<[string], Split>('SELECT split FROM split_keys WHERE key = ?').pluck().get(key);
  }

  /** The member row of a sample in a snapshot, or undefined when the snapshot does not have it. */
  member(version: number, sampleId: string): { split: Split; added_in: number } | undefined {
    return this.db.transaction(() => {
      if (!this.deltaMembership()) {
        return this.prepare<[number, string], { split: Split; added_in: number }>(
          'SELECT split, added_in FROM snapshot_samples WHERE version = ? AND sample_id = ?',
        ).get(version, sampleId);
      }
      const ancestry = this.readAncestry(version).set;
      const rows = this.prepare<[string], { version: number; split: Split; added_in: number }>(
        'SELECT version, split, added_in FROM snapshot_samples WHERE sample_id = ?',
      ).all(sampleId);
      const row = rows.find((candidate) => ancestry.has(candidate.version));
      return row === undefined ? undefined : { split: row.split, added_in: row.added_in };
    })();
  }

  /**
   * Yields a snapshot's members with their sample rows in ascending id order. Paging keeps the
   * connection free between pages, so callers may run other queries while iterating. Each page
   * reads the schema version in the same read transaction, because a writer in another process
   * may convert an older index to delta membership between pages.
   */
  *memberSamples(version: number, filter: MemberFilter): Generator<MemberSampleRow> {
    const params: Record<string, unknown> = { version, after: '', limit: PAGE_SIZE };
    if (filter.split !== undefined) params.split = filter.split;
    if (filter.addedIn !== undefined) params.addedIn = filter.addedIn;
    const splitCondition = filter.split === undefined ? '' : ' AND m.split = @split';
    const columns = 'SELECT s.*, m.split, m.added_in FROM snapshot_samples m';
    const order = 'ORDER BY m.sample_id LIMIT @limit';
    const readPage = this.db.transaction((): MemberSampleRow[] => {
      if (!this.deltaMembership()) {
        const addedCondition = filter.addedIn === undefined ? '' : ' AND m.added_in = @addedIn';
        return this.prepare<Record<string, unknown>, MemberSampleRow>(
          `${columns} JOIN samples s ON s.id = m.sample_id
           WHERE m.version = @version AND m.sample_id > @after${splitCondition}${addedCondition} ${order}`,
        ).all(params);
      }
      if (filter.addedIn !== undefined) {
        // The members that one snapshot added are the rows of its own version.
        if (!this.readAncestry(version).set.has(filter.addedIn)) return [];
        return this.prepare<Record<string, unknown>, MemberSampleRow>(
          `${columns} JOIN samples s ON s.id = m.sample_id
           WHERE m.version = @addedIn AND m.sample_id > @after${splitCondition} ${order}`,
        ).all(params);
      }
      params.ancestry = JSON.stringify(this.readAncestry(version).versions);
      return this.prepare<Record<string, unknown>, MemberSampleRow>(
        `${columns} INDEXED BY snapshot_samples_by_sample JOIN samples s ON s.id = m.sample_id
         WHERE m.sample_id > @after AND m.version IN (SELECT value FROM json_each(@ancestry))${splitCondition} ${order}`,
      ).all(params);
    });
    for (;;) {
      const rows = readPage();
      yield* rows;
      const last = rows.at(-1);
      if (last === undefined || rows.length < PAGE_SIZE) return;
      params.after = last.id;
    }
  }

  /**
   * Reads the versions of a snapshot and of all its ancestors, the snapshot first, or returns the
   * ones read last when they are the same snapshot's.
   */
  private readAncestry(version: number): { versions: number[]; set: Set<number> } {
    if (this.lastAncestry?.version === version) return this.lastAncestry;
    const versions = this.prepare<[number], number>(
      `WITH RECURSIVE chain (version, parent_hash) AS (
         SELECT version, parent_hash FROM snapshots WHERE version = ?
         UNION ALL
         SELECT s.version, s.parent_hash FROM snapshots s JOIN chain c ON s.manifest_hash = c.parent_hash
       )
       SELECT version FROM chain`,
    )
      .pluck()
      .all(version);
    const read = { version, versions, set: new Set(versions) };
    // A snapshot's ancestry never changes, so the last one read stays valid. A version without a
    // snapshot is not kept, because a later commit may create it.
    if (versions.length > 0) this.lastAncestry = read;
    return read;
  }

  /** Tells whether `snapshot_samples` contains only added members (schema version 3 and later). */
  private deltaMembership(): boolean {
    return (this.db.pragma('user_version', { simple: true }) as number) >= DELTA_MEMBERSHIP_SCHEMA_VERSION;
  }

  lineage(sampleId: string): LineageRow[] {
    return this.prepare<[string], LineageRow>(
      'SELECT * FROM lineage WHERE sample_id = ? ORDER BY first_version, rowid',
    ).all(sampleId);
  }

  /**
   * Tells whether a sample row or a lineage row references the blob. The tables have no index by
   * blob hash, so the first call copies every referenced hash into a temporary table keyed by
   * hash, and later calls look the hash up there until `forgetBlobReferences`. Recovery is the
   * only caller, and it changes no rows between its calls.
   */
  isBlobReferenced(sha256: string): boolean {
    if (!this.blobReferencesLoaded) {
      this.db.exec(`
        DROP TABLE IF EXISTS temp.referenced_blobs;
        CREATE TEMP TABLE referenced_blobs (sha256 TEXT PRIMARY KEY) WITHOUT ROWID;
        INSERT OR IGNORE INTO temp.referenced_blobs SELECT input_sha256 FROM samples UNION ALL SELECT image_sha256 FROM lineage;
      `);
      this.blobReferencesLoaded = true;
    }
    // Not kept among the prepared statements, because the table is dropped again.
    return this.db.prepare<[string], number>('SELECT 1 FROM temp.referenced_blobs WHERE sha256 = ?').pluck().get(sha256) !== undefined;
  }

  /** Drops the temporary table of `isBlobReferenced`, so that its next call reads the rows again. */
  forgetBlobReferences(): void {
    if (!this.blobReferencesLoaded) return;
    this.db.exec('DROP TABLE IF EXISTS temp.referenced_blobs');
    this.blobReferencesLoaded = false;
  }

  /** Writes all rows of one snapshot in one transaction. */
  writeSnapshot(write: SnapshotWrite): void {
    const version = write.snapshot.version;
    const insertSnapshot = this.prepare(
      `INSERT INTO snapshots (version, manifest_hash, parent_hash, created_at, note, added, stats)
       VALUES (@version, @manifest_hash, @parent_hash, @created_at, @note, @added, @stats)`,
    );
    const insertSplitKey = this.prepare('INSERT INTO split_keys (key, split, first_version) VALUES (?, ?, ?)');
    const insertSample = this.prepare(
      `INSERT INTO samples (id, image_sha256, input_sha256, width, height, labels, tags, recording, topic,
         log_time_ns, file, split_key, first_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertSighting = this.prepare(
      `INSERT OR IGNORE INTO lineage (sample_id, recording, topic, log_time_ns, file, split_key, image_sha256, first_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertMember = this.prepare(
      'INSERT INTO snapshot_samples (version, sample_id, split, added_in) VALUES (?, ?, ?, ?)',
    );

    this.db.transaction(() => {
      useDeltaMembership(this.db);
      dropBlobHashIndexes(this.db);
      insertSnapshot.run(write.snapshot);
      for (const { key, split } of write.splitKeys) insertSplitKey.run(key, split, version);
      for (const record of write.samples) {
        const { source } = record;
        insertSample.run(
          record.id,
          record.imageSha256,
          record.inputSha256,
          record.width,
          record.height,
          canonicalLabelsJson(record.labels),
          JSON.stringify(record.tags),
          source.recording,
          source.topic,
          source.logTimeNs,
          source.file,
          record.splitKey,
          version,
        );
      }
      for (const sighting of write.sightings) {
        const { source } = sighting;
        insertSighting.run(
          sighting.sampleId,
          source.recording,
          source.topic,
          source.logTimeNs,
          source.file,
          sighting.splitKey,
          sighting.imageSha256,
          version,
        );
      }
      for (const member of write.addedMembers) insertMember.run(version, member.id, member.split, member.addedIn);
    }).immediate();
  }

  close(): void {
    this.statements.clear();
    this.db.close();
  }

  /** Returns the prepared statement of `sql`, preparing it at the first call. */
  private prepare<P extends unknown[] | {} = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement as unknown as Database.Statement<P, R>;
  }
}

/** Builds the SampleRecord of a `samples` row. */
export function sampleRowToRecord(row: SampleRow): SampleRecord {
  return {
    id: row.id,
    imageSha256: row.image_sha256,
    inputSha256: row.input_sha256,
    width: row.width,
    height: row.height,
    labels: JSON.parse(row.labels) as Record<string, LabelValue>,
    tags: JSON.parse(row.tags) as string[],
    source: { recording: row.recording, topic: row.topic, logTimeNs: row.log_time_ns, file: row.file },
    splitKey: row.split_key,
  };
}
