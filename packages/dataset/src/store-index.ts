import type { LabelValue, SampleRecord, SampleSource, Split } from '@fieldloop/contracts';
import type Database from 'better-sqlite3';
import type { ManifestMember } from './manifest-hash.ts';
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
  parentVersion: number | null;
  /** Split keys seen for the first time. */
  splitKeys: Array<{ key: string; split: Split }>;
  /** Samples not yet in the `samples` table, with their first sighting as source. */
  samples: SampleRecord[];
  sightings: Sighting[];
  /** Members that the parent does not have. */
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

  member(version: number, sampleId: string): { split: Split; added_in: number } | undefined {
    return this.prepare<[number, string], { split: Split; added_in: number }>(
      'SELECT split, added_in FROM snapshot_samples WHERE version = ? AND sample_id = ?',
    ).get(version, sampleId);
  }

  /** Yields a snapshot's members in ascending id order, one page of rows per query. */
  *membersInIdOrder(version: number): Generator<ManifestMember> {
    const page = this.prepare<[number, string, number], { id: string; split: Split }>(
      'SELECT sample_id AS id, split FROM snapshot_samples WHERE version = ? AND sample_id > ? ORDER BY sample_id LIMIT ?',
    );
    let after = '';
    for (;;) {
      const rows = page.all(version, after, PAGE_SIZE);
      yield* rows;
      const last = rows.at(-1);
      if (last === undefined || rows.length < PAGE_SIZE) return;
      after = last.id;
    }
  }

  /**
   * Yields a snapshot's members with their sample rows in ascending id order. Paging keeps the
   * connection free between pages, so callers may run other queries while iterating.
   */
  *memberSamples(version: number, filter: MemberFilter): Generator<MemberSampleRow> {
    const conditions = ['m.version = @version', 'm.sample_id > @after'];
    if (filter.split !== undefined) conditions.push('m.split = @split');
    if (filter.addedIn !== undefined) conditions.push('m.added_in = @addedIn');
    const page = this.prepare<Record<string, unknown>, MemberSampleRow>(
      `SELECT s.*, m.split, m.added_in FROM snapshot_samples m JOIN samples s ON s.id = m.sample_id
       WHERE ${conditions.join(' AND ')} ORDER BY m.sample_id LIMIT @limit`,
    );
    const params: Record<string, unknown> = { version, after: '', limit: PAGE_SIZE };
    if (filter.split !== undefined) params.split = filter.split;
    if (filter.addedIn !== undefined) params.addedIn = filter.addedIn;
    for (;;) {
      const rows = page.all(params);
      yield* rows;
      const last = rows.at(-1);
      if (last === undefined || rows.length < PAGE_SIZE) return;
      params.after = last.id;
    }
  }

  lineage(sampleId: string): LineageRow[] {
    return this.prepare<[string], LineageRow>(
      'SELECT * FROM lineage WHERE sample_id = ? ORDER BY first_version, rowid',
    ).all(sampleId);
  }

  /** Tells whether a sample row or a lineage row references the blob. */
  isBlobReferenced(sha256: string): boolean {
    const row = this.prepare<[string, string], number>(
      `SELECT EXISTS (SELECT 1 FROM samples WHERE input_sha256 = ?)
           OR EXISTS (SELECT 1 FROM lineage WHERE image_sha256 = ?)`,
    )
      .pluck()
      .get(sha256, sha256);
    return row === 1;
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
    const copyParentMembers = this.prepare(
      `INSERT INTO snapshot_samples (version, sample_id, split, added_in)
       SELECT ?, sample_id, split, added_in FROM snapshot_samples WHERE version = ?`,
    );
    const insertMember = this.prepare(
      'INSERT INTO snapshot_samples (version, sample_id, split, added_in) VALUES (?, ?, ?, ?)',
    );

    this.db.transaction(() => {
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
      if (write.parentVersion !== null) copyParentMembers.run(version, write.parentVersion);
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
