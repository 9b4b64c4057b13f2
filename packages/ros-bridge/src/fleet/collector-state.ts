import { open, type FileHandle } from 'node:fs/promises';
import Database from 'better-sqlite3';
import type { FileLock } from '@fieldloop/dataset';
import { IntakeJournal, type JournalRecordRef } from './intake-journal.ts';
import { PayloadCache } from './payload-cache.ts';
import { acquireProcessLock } from './process-lock.ts';
import type { QueueSynchronous } from './outbound-queue.ts';
import type { SampleChunk } from './sample-codec.ts';

export interface CollectorStateOptions {
  /**
   * SQLite file; `:memory:` keeps nothing across restarts and suits only tests. Payloads of a file
   * state go to the intake journal, a directory named after the file plus `.intake`.
   */
  path: string;
  /**
   * `full` (default): `sync()` makes every commit before it survive a power loss. `normal`:
   * commits survive a killed process at once, and a power loss may lose the last ones.
   */
  synchronous?: QueueSynchronous;
  /** Bytes of incomplete chunked samples kept at most; older ones are dropped first. Default 256 MiB. */
  maxChunkBytes?: number;
  /** Bytes of one intake journal segment file at most, before a new one starts; default 64 MiB. */
  journalSegmentBytes?: number;
  /**
   * Bytes of received payloads kept in memory until their field batch, so that it reads them from
   * memory instead of the journal; default 64 MiB. Older ones are read back from the journal.
   * NOTE: the bound counts payload bytes. A payload can be a view into a larger socket buffer of
   * mqtt.js, which then stays in memory with it, so the memory held can exceed the bound.
   */
  payloadCacheBytes?: number;
  /**
   * Tells whether the data set store has a sample, so that a sample committed before counts as
   * duplicate content. Without it the state keeps the ids of committed samples in its own table,
   * which then grows with every sample.
   */
  isStored?: (sampleId: string) => boolean;
  /**
   * Size from which a sealed journal segment is handed to the store as a file (`PendingSample.file`),
   * default 8 MiB. The store takes such a file in as a pack without copying it. Payloads of smaller
   * segments are handed over as bytes, so slow streams leave no small pack file per field batch.
   */
  minAdoptedSegmentBytes?: number;
}

/** A received sample waiting to be committed to the store. */
export interface PendingSample {
  rowId: number;
  robot: string;
  sampleId: string;
  payload: Buffer;
  /**
   * True when the payload is known to be the bytes that `receiveSample` was given: kept in memory
   * since, or read back from the intake journal with a matching CRC-32. False for a payload read
   * from SQLite, which keeps no checksum of its own.
   */
  verified: boolean;
  /**
   * Place of the payload in a sealed intake journal segment of at least `minAdoptedSegmentBytes`,
   * or null for a payload of a smaller segment or kept in SQLite. The file stays as it is until
   * the row is settled.
   */
  file: { path: string; offset: number } | null;
}

export type ReceiveOutcome = 'accepted' | 'duplicate-sequence' | 'duplicate-content';

export type ChunkOutcome = { kind: 'duplicate-sequence' } | { kind: 'stored' } | { kind: 'complete'; payload: Buffer };

/** Columns that the `pending` table gained with the intake journal, added to older state files on open. */
const JOURNAL_COLUMNS = ['boot TEXT', 'seq INTEGER', 'segment INTEGER', 'offset INTEGER', 'length INTEGER', 'crc INTEGER'];

interface PendingRow {
  id: number;
  robot: string;
  sample_id: string;
  payload: Buffer;
  segment: number | null;
  offset: number | null;
  length: number | null;
  crc: number | null;
}

/**
 * The collector's durable memory, in one SQLite file in WAL mode: every (robot, boot, sequence)
 * seen, samples received but not yet in the store, chunks of incomplete samples, and, without
 * `isStored`, the ids of committed samples. A message is acknowledged to the broker only after
 * its row is committed here, so a collector crash loses nothing and a redelivery is recognised by
 * its sequence key.
 *
 * The payload of a pending sample goes to an append-only `IntakeJournal`, and its row keeps only
 * where the payload lies. The journal is written before the rows commit, and `sync()` syncs both,
 * so a killed process keeps every record that a row refers to. After a power loss, a record may
 * be lost while its row survived. Such rows were never acknowledged, so on open the state drops
 * them with their sequence keys and accepts the broker's redelivery. Samples reassembled from
 * chunks keep their payload in SQLite, because their chunks were acknowledged one by one.
 */
export class CollectorState {
  private readonly db: Database.Database;
  private readonly maxChunkBytes: number;
  private readonly statements = new Map<string, Database.Statement>();
  /** The write-ahead log that `sync()` flushes; null when commits need no sync (`normal`, or `:memory:`). */
  private readonly walPath: string | null;
  /** Null for `:memory:`, whose payloads stay in SQLite. */
  private readonly journal: IntakeJournal | null;
  /** Pending rows dropped on open because their journal record was missing or torn. */
  readonly droppedAtOpen: number;
  /** `recordSampleRows` in a savepoint, built once because building a transaction function costs more than running it. */
  private readonly recordSample: Database.Transaction<CollectorState['recordSampleRows']>;
  /** The open write-ahead log that `syncWal` syncs, opened at the first sync. */
  private wal: Promise<FileHandle> | null = null;
  /** Payloads of pending rows received by this process, kept so a field batch need not read them back. */
  private readonly payloads: PayloadCache;
  private readonly isStored: ((sampleId: string) => boolean) | null;
  private readonly minAdoptedSegmentBytes: number;
  /** The lock file `<path>.lock`, so that one process at a time uses the state and its journal, or null for `:memory:`. */
  private readonly lock: FileLock | null;

  constructor(options: CollectorStateOptions) {
    this.maxChunkBytes = options.maxChunkBytes ?? 256 * 1024 * 1024;
    this.isStored = options.isStored ?? null;
    this.minAdoptedSegmentBytes = options.minAdoptedSegmentBytes ?? 8 * 1024 * 1024;
    this.payloads = new PayloadCache(options.payloadCacheBytes ?? 64 * 1024 * 1024);
    this.lock = options.path === ':memory:' ? null : acquireStateLock(options.path);
    try {
      this.db = new Database(options.path);
    } catch (error) {
      this.lock?.release();
      throw new Error(`opening the collector state ${options.path} failed: ${(error as Error).message}. Check that its directory exists and is writable.`, { cause: error });
    }
    this.db.pragma('journal_mode = WAL');
    // With synchronous=NORMAL a commit writes its WAL frames without syncing them, and `sync()`
    // syncs the WAL file on the libuv thread pool, so the event loop does not wait for the disk.
    // Checkpoints still sync the WAL before they copy it into the database file.
    this.db.pragma('synchronous = NORMAL');
    this.recordSample = this.db.transaction((...args: Parameters<CollectorState['recordSampleRows']>) => this.recordSampleRows(...args));
    this.walPath = (options.synchronous ?? 'full') === 'full' && !this.db.memory ? `${this.db.name}-wal` : null;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS seen (
        robot TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (robot, boot, seq)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS pending (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        robot TEXT NOT NULL, sample_id TEXT NOT NULL, payload BLOB NOT NULL, received_at INTEGER NOT NULL,
        boot TEXT, seq INTEGER, segment INTEGER, offset INTEGER, length INTEGER, crc INTEGER
      );
      CREATE INDEX IF NOT EXISTS pending_sample ON pending (sample_id);
      CREATE TABLE IF NOT EXISTS chunks (
        robot TEXT NOT NULL, boot TEXT NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
        count INTEGER NOT NULL, total INTEGER NOT NULL, data BLOB NOT NULL, received_at INTEGER NOT NULL,
        PRIMARY KEY (robot, boot, seq, idx)
      );
      CREATE TABLE IF NOT EXISTS committed (sample_id TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS batches (
        version INTEGER NOT NULL, committed_at TEXT NOT NULL, samples INTEGER NOT NULL, per_robot TEXT NOT NULL
      );
    `);
    const columns = new Set((this.db.pragma('table_info(pending)') as Array<{ name: string }>).map((column) => column.name));
    for (const column of JOURNAL_COLUMNS) {
      if (!columns.has(column.split(' ')[0] as string)) this.db.exec(`ALTER TABLE pending ADD COLUMN ${column}`);
    }
    try {
      this.journal = this.db.memory ? null : new IntakeJournal(`${this.db.name}.intake`, options.journalSegmentBytes);
      this.droppedAtOpen = this.dropLostRecords();
    } catch (error) {
      this.db.close();
      this.lock?.release();
      throw error;
    }
  }

  /**
   * Deletes pending rows whose journal record a power loss lost or tore, and their sequence keys,
   * so that the broker's redelivery of those never acknowledged messages is accepted again.
   */
  private dropLostRecords(): number {
    const journal = this.journal;
    if (journal === null) return 0;
    const rows = this.sql('SELECT id, robot, boot, seq, segment, offset, length, crc FROM pending WHERE segment IS NOT NULL').all() as Array<
      JournalRecordRef & { id: number; robot: string; boot: string; seq: number }
    >;
    const lost = rows.filter((row) => journal.read(row) === null);
    if (lost.length > 0) {
      this.transaction(() => {
        for (const row of lost) {
          this.sql('DELETE FROM pending WHERE id = ?').run(row.id);
          this.sql('DELETE FROM seen WHERE robot = ? AND boot = ? AND seq = ?').run(row.robot, row.boot, row.seq);
        }
      });
    }
    this.removeUnusedSegments();
    return lost.length;
  }

  private removeUnusedSegments(): void {
    if (this.journal === null) return;
    const used = this.sql('SELECT DISTINCT segment FROM pending WHERE segment IS NOT NULL').all() as Array<{ segment: number }>;
    this.journal.removeSegmentsExcept(new Set(used.map((row) => row.segment)));
  }

  /**
   * Runs `body` in one transaction and writes the journal records it appended before the commit,
   * so a single `sync()` covers every message it records.
   * The receive methods called inside it become savepoints: one that throws rolls back only its
   * own writes, and the caller may catch that and go on.
   */
  transaction<T>(body: () => T): T {
    const run = this.db.transaction((): T => {
      const result = body();
      // Journal records reach the file before the rows that refer to them commit.
      this.journal?.flush();
      return result;
    });
    try {
      const result = run.immediate();
      this.payloads.commitStaged();
      return result;
    } catch (error) {
      this.journal?.discard();
      this.payloads.dropStaged();
      throw error;
    }
  }

  /**
   * Records a complete sample unless its sequence key or its content was seen before. Pass
   * `reassembled` for a sample put together from chunks, whose payload then stays in SQLite.
   */
  receiveSample(robot: string, bootId: string, sequence: number, sampleId: string, payload: Buffer, reassembled = false): ReceiveOutcome {
    if (!this.db.inTransaction) return this.transaction(() => this.receiveSample(robot, bootId, sequence, sampleId, payload, reassembled));
    const { outcome, rowId } = this.recordSample.immediate(robot, bootId, sequence, sampleId, payload, reassembled);
    if (rowId !== undefined) this.payloads.stage(rowId, payload);
    return outcome;
  }

  /** Records one sample inside the savepoint that `recordSample` opens. */
  private recordSampleRows(robot: string, bootId: string, sequence: number, sampleId: string, payload: Buffer, reassembled: boolean): { outcome: ReceiveOutcome; rowId?: number } {
    // A robot's queue keeps each sequence number's messages as they were first encoded, whole or in chunks,
    // so only a reassembled sample has chunk rows. Any other chunk rows expire with the chunk timeout.
    if (reassembled) this.sql('DELETE FROM chunks WHERE robot = ? AND boot = ? AND seq = ?').run(robot, bootId, sequence);
    const inserted = this.sql('INSERT OR IGNORE INTO seen (robot, boot, seq) VALUES (?, ?, ?)').run(robot, bootId, sequence);
    if (inserted.changes === 0) return { outcome: 'duplicate-sequence' };
    if (this.isContentKnown(sampleId)) return { outcome: 'duplicate-content' };
    if (this.journal === null || reassembled) {
      const row = this.sql('INSERT INTO pending (robot, sample_id, payload, received_at) VALUES (?, ?, ?, ?)').run(robot, sampleId, payload, Date.now());
      return { outcome: 'accepted', rowId: Number(row.lastInsertRowid) };
    }
    const ref = this.journal.append(payload);
    const row = this.sql(
      `INSERT INTO pending (robot, sample_id, payload, received_at, boot, seq, segment, offset, length, crc) VALUES (?, ?, x'', ?, ?, ?, ?, ?, ?, ?)`,
    ).run(robot, sampleId, Date.now(), bootId, sequence, ref.segment, ref.offset, ref.length, ref.crc);
    return { outcome: 'accepted', rowId: Number(row.lastInsertRowid) };
  }

  /** Tells whether a sample is pending here or committed to the store. */
  private isContentKnown(sampleId: string): boolean {
    if (this.sql('SELECT 1 FROM pending WHERE sample_id = ?').get(sampleId) !== undefined) return true;
    if (this.isStored !== null) return this.isStored(sampleId);
    return this.sql('SELECT 1 FROM committed WHERE sample_id = ?').get(sampleId) !== undefined;
  }

  /**
   * Stores one chunk and returns the whole sample message once every chunk is in. Chunks that
   * disagree with stored ones on count or length throw. When incomplete samples pass the byte
   * bound, the oldest are dropped first.
   */
  receiveChunk(chunk: SampleChunk): ChunkOutcome {
    const run = this.db.transaction((): ChunkOutcome => {
      const key = [chunk.robot, chunk.bootId, chunk.sequence] as const;
      if (this.sql('SELECT 1 FROM seen WHERE robot = ? AND boot = ? AND seq = ?').get(...key) !== undefined) {
        return { kind: 'duplicate-sequence' };
      }
      const other = this.sql('SELECT count, total FROM chunks WHERE robot = ? AND boot = ? AND seq = ? LIMIT 1').get(...key) as
        | { count: number; total: number }
        | undefined;
      if (other && (other.count !== chunk.count || other.total !== chunk.totalBytes)) {
        throw new RangeError(
          `chunk ${chunk.index} of ${chunk.robot} sequence ${chunk.sequence} declares ${chunk.count} chunks and ${chunk.totalBytes} bytes, ` +
            `but earlier chunks declared ${other.count} and ${other.total}`,
        );
      }
      this.db
        .prepare('INSERT OR IGNORE INTO chunks (robot, boot, seq, idx, count, total, data, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(...key, chunk.index, chunk.count, chunk.totalBytes, chunk.data, Date.now());
      const parts = this.sql('SELECT data FROM chunks WHERE robot = ? AND boot = ? AND seq = ? ORDER BY idx').all(...key) as Array<{ data: Buffer }>;
      if (parts.length < chunk.count) {
        this.evictChunks();
        return { kind: 'stored' };
      }
      // The chunks stay until receiveSample records the sample in the same transaction that deletes them.
      const payload = Buffer.concat(parts.map((part) => part.data));
      if (payload.length !== chunk.totalBytes) {
        this.sql('DELETE FROM chunks WHERE robot = ? AND boot = ? AND seq = ?').run(...key);
        throw new RangeError(`chunks of ${chunk.robot} sequence ${chunk.sequence} add up to ${payload.length} bytes, but declare ${chunk.totalBytes}`);
      }
      return { kind: 'complete', payload };
    });
    return run.immediate();
  }

  /** Deletes the chunks of one sample, for a reassembled message that failed to decode. */
  discardChunks(robot: string, bootId: string, sequence: number): void {
    this.sql('DELETE FROM chunks WHERE robot = ? AND boot = ? AND seq = ?').run(robot, bootId, sequence);
  }

  /** Drops incomplete chunked samples whose first chunk is older than `maxAgeMs`; returns how many. */
  expireChunks(maxAgeMs: number, now = Date.now()): number {
    const run = this.db.transaction(() => {
      const stale = this.db
        .prepare('SELECT robot, boot, seq FROM chunks GROUP BY robot, boot, seq HAVING min(received_at) < ?')
        .all(now - maxAgeMs) as Array<{ robot: string; boot: string; seq: number }>;
      for (const group of stale) this.sql('DELETE FROM chunks WHERE robot = ? AND boot = ? AND seq = ?').run(group.robot, group.boot, group.seq);
      return stale.length;
    });
    return run.immediate();
  }

  /**
   * Returns up to `limit` pending samples, oldest first, with their payloads from memory, or read
   * from the journal for rows that an earlier process received or that the memory bound let go.
   * Seals the journal first, so every returned payload in the journal lies in a file that no later
   * write changes.
   */
  pending(limit: number): PendingSample[] {
    this.journal?.seal();
    const rows = this.sql('SELECT id, robot, sample_id, payload, segment, offset, length, crc FROM pending ORDER BY id LIMIT ?').all(limit) as PendingRow[];
    return rows.map((row) => {
      const cached = this.payloads.get(row.id);
      const payload = cached ?? this.payloadOf(row);
      const { journal } = this;
      const segment = row.segment;
      const inJournal = segment !== null && journal !== null;
      const adopted = inJournal && journal.sealedSize(segment) >= this.minAdoptedSegmentBytes;
      const file = adopted ? { path: journal.segmentPath(segment), offset: IntakeJournal.payloadOffset(row as JournalRecordRef) } : null;
      return { rowId: row.id, robot: row.robot, sampleId: row.sample_id, payload, verified: cached !== undefined || inJournal, file };
    });
  }

  private payloadOf(row: PendingRow): Buffer {
    if (row.segment === null || this.journal === null) return row.payload;
    const ref = { segment: row.segment, offset: row.offset as number, length: row.length as number, crc: row.crc as number };
    const payload = this.journal.read(ref);
    if (payload === null) {
      throw new Error(
        `the intake journal record of pending sample ${row.sample_id} (segment ${ref.segment}, offset ${ref.offset}) is missing or corrupt; ` +
          `restart the collector, which drops such rows so that the broker redelivers the message`,
      );
    }
    return payload;
  }

  pendingCount(): number {
    return (this.sql('SELECT count(*) AS n FROM pending').get() as { n: number }).n;
  }

  /** Removes pending rows after their samples were committed (or rejected), and remembers the committed ids where no `isStored` was given. */
  settle(rowIds: readonly number[], committedIds: readonly string[], batch: { version: number; perRobot: Record<string, number> } | null): void {
    const run = this.db.transaction(() => {
      const remove = this.sql('DELETE FROM pending WHERE id = ?');
      for (const id of rowIds) remove.run(id);
      if (this.isStored === null) {
        const remember = this.sql('INSERT OR IGNORE INTO committed (sample_id) VALUES (?)');
        for (const id of committedIds) remember.run(id);
      }
      if (batch) {
        const samples = Object.values(batch.perRobot).reduce((sum, n) => sum + n, 0);
        this.db
          .prepare('INSERT INTO batches (version, committed_at, samples, per_robot) VALUES (?, ?, ?, ?)')
          .run(batch.version, new Date().toISOString(), samples, JSON.stringify(batch.perRobot));
      }
    });
    run.immediate();
    for (const id of rowIds) this.payloads.delete(id);
    this.removeUnusedSegments();
  }

  /**
   * Syncs the write-ahead log and the intake journal with fdatasync, so every commit made before
   * the call survives a power loss. Does nothing with `synchronous: 'normal'`. Throws when a sync fails.
   */
  async sync(): Promise<void> {
    if (this.walPath === null) return;
    await Promise.all([this.syncWal(this.walPath), this.journal?.sync()]);
  }

  private async syncWal(walPath: string): Promise<void> {
    // fdatasync flushes the file, not only this descriptor's writes, so SQLite's own writes are covered.
    // SQLite keeps the WAL file while this connection is open, so one descriptor serves every sync.
    try {
      this.wal ??= open(walPath, 'r');
      await (await this.wal).datasync();
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      if (missing) this.wal = null;
      // SQLite creates the WAL file with the first transaction, so a missing one holds no commits.
      if (missing) return;
      throw new Error(`syncing the collector state's write-ahead log ${walPath} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Closes the database and the journal. Call it only after the last `sync` resolved. */
  close(): void {
    if (!this.db.open) return;
    this.db.close();
    this.journal?.close();
    this.lock?.release();
    this.payloads.clear();
    const wal = this.wal;
    this.wal = null;
    void wal?.then((handle) => handle.close()).catch(() => undefined);
  }

  /** Returns a prepared statement, compiling each SQL text once. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private evictChunks(): void {
    let bytes = (this.sql('SELECT coalesce(sum(length(data)), 0) AS n FROM chunks').get() as { n: number }).n;
    while (bytes > this.maxChunkBytes) {
      const oldest = this.sql('SELECT robot, boot, seq FROM chunks ORDER BY received_at LIMIT 1').get() as
        | { robot: string; boot: string; seq: number }
        | undefined;
      if (!oldest) return;
      this.sql('DELETE FROM chunks WHERE robot = ? AND boot = ? AND seq = ?').run(oldest.robot, oldest.boot, oldest.seq);
      bytes = (this.sql('SELECT coalesce(sum(length(data)), 0) AS n FROM chunks').get() as { n: number }).n;
    }
  }
}

/**
 * Takes the lock file of a collector state, so that a second collector given the same state file
 * fails at start instead of deleting the first one's journal segments. A lock left by a process
 * on this host that no longer runs is taken over.
 */
function acquireStateLock(statePath: string): FileLock {
  try {
    return acquireProcessLock(`${statePath}.lock`, {
      subject: `collector state ${statePath}`,
      release: 'Give each collector its own --state, or stop that process',
      deleteInvalid: 'Delete it if no collector runs',
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === undefined) throw error;
    throw new Error(`opening the collector state ${statePath} failed: ${(error as Error).message}. Check that its directory exists and is writable.`, { cause: error });
  }
}
