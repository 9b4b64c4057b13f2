import Database from 'better-sqlite3';
import { openSqliteReadOnly, type ReadOnlySqlite } from './open-sqlite-read-only.ts';
import {
  RecordingError,
  type RawMessage,
  type ReadLoss,
  type RecordingChannel,
  type RecordingReader,
} from './recording-reader.ts';
import type { Rosbag2Metadata } from './rosbag2-metadata.ts';
import { readRosbag2SqliteTables, type Rosbag2SqliteTables } from './rosbag2-sqlite-tables.ts';

/** rosbag2's own read order: receive time, then insertion order for equal times. */
const ORDERED_MESSAGES_SQL = 'SELECT id, topic_id, timestamp, data FROM messages ORDER BY timestamp, id';
const ORDERED_KEYS_SQL = 'SELECT id, topic_id, timestamp FROM messages ORDER BY timestamp, id';
const DATA_BY_ID_SQL = 'SELECT data FROM messages WHERE id = ?';

/**
 * Returns the per-topic counts of the file's `metadata` table when they describe this file
 * alone, else null. rosbag2 writes the counts of the whole bag so far into each split file, so
 * only a row that lists one storage file counts exactly that file's messages. A row without
 * messages is skipped too, because rosbag2 writes one when it opens the file, and after a crash
 * that row is the last one even though the file contains messages.
 */
function declaredCountsOf(metadata: Rosbag2Metadata | null): Map<string, number> | null {
  if (metadata === null) return null;
  if (metadata.relativeFilePaths.length !== 1 || metadata.messageCount === 0) return null;
  return new Map(metadata.topicsWithMessageCount.map((topic) => [topic.topicMetadata.name, topic.messageCount]));
}

function buildChannels(tables: Rosbag2SqliteTables): RecordingChannel[] {
  const declared = declaredCountsOf(tables.storedMetadata);
  return tables.topics.map((topic) => ({
    id: topic.id,
    topic: topic.name,
    type: topic.type,
    encoding: topic.serializationFormat,
    definition: tables.definitions.get(topic.type) ?? null,
    declaredCount: declared?.get(topic.name) ?? null,
  }));
}

/** Adds messages that could not be returned to one ReadLoss per cause. */
class LossTally {
  readonly losses: ReadLoss[] = [];
  private readonly byCause = new Map<string, ReadLoss>();

  constructor(private readonly file: string) {}

  clear(): void {
    this.losses.length = 0;
    this.byCause.clear();
  }

  add(cause: string, reason: string, bytes: number, logTime: bigint): void {
    let loss = this.byCause.get(cause);
    if (!loss) {
      loss = { file: this.file, bytes: 0, messages: 0, startTime: logTime, endTime: logTime, reason };
      this.byCause.set(cause, loss);
      this.losses.push(loss);
    }
    loss.bytes += bytes;
    loss.messages = (loss.messages ?? 0) + 1;
    if (loss.startTime === null || logTime < loss.startTime) loss.startTime = logTime;
    if (loss.endTime === null || logTime > loss.endTime) loss.endTime = logTime;
  }
}

function usesTemporarySort(db: Database.Database): boolean {
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${ORDERED_MESSAGES_SQL}`).all() as { detail: string }[];
  return plan.some((step) => step.detail.includes('TEMP B-TREE'));
}

type MessageRow = [id: bigint, topicId: bigint, timestamp: bigint, data: unknown];

/** Rows per channel id: returned as messages, and skipped for invalid data. */
interface RowCounts {
  found: Map<number, number>;
  skipped: Map<number, number>;
}

function increment(counts: Map<number, number>, id: number): void {
  counts.set(id, (counts.get(id) ?? 0) + 1);
}

class Rosbag2SqliteReader implements RecordingReader {
  readonly format = 'rosbag2-sqlite3' as const;
  readonly path: string;
  readonly files: readonly string[];
  private readonly channelList: RecordingChannel[];
  private readonly channelsById: Map<number, RecordingChannel>;
  private readonly tally: LossTally;
  private readonly countLosses: ReadLoss[] = [];
  /** The row iterator of a messages() call in progress, which close() must end first. */
  private activeRows: Generator<MessageRow> | null = null;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly sqlite: ReadOnlySqlite,
    tables: Rosbag2SqliteTables,
  ) {
    this.path = file;
    this.files = [file];
    this.channelList = buildChannels(tables);
    this.channelsById = new Map(this.channelList.map((channel) => [channel.id, channel]));
    this.tally = new LossTally(file);
  }

  channels(): readonly RecordingChannel[] {
    return this.channelList;
  }

  losses(): readonly ReadLoss[] {
    return [...this.tally.losses, ...this.countLosses];
  }

  async *messages(): AsyncIterable<RawMessage> {
    if (this.closed) throw new RecordingError(this.file, `${this.file} was closed; open it again to read its messages`);
    this.tally.clear();
    this.countLosses.length = 0;
    const counts: RowCounts = { found: new Map(), skipped: new Map() };
    let read = 0;
    let lastTime: bigint | null = null;
    const rows = this.rows();
    this.activeRows = rows;

    try {
      for (const row of rows) {
        lastTime = row[2];
        const message = this.toMessage(row, counts);
        if (message === null) continue;
        read += 1;
        yield message;
      }
    } catch (error) {
      throw this.readError(error, lastTime, read);
    } finally {
      this.activeRows = null;
    }

    // close() ends the rows early, so the counts are incomplete.
    if (this.closed) return;
    this.countLosses.push(...this.compareWithDeclared(counts));
  }

  /** Turns a row into a message, or records it as lost and returns null. */
  private toMessage([id, topicId, timestamp, data]: MessageRow, counts: RowCounts): RawMessage | null {
    const channel = this.channelsById.get(Number(topicId));
    if (!channel) {
      this.tally.add(
        `topic ${topicId}`,
        `Messages with topic_id ${topicId} have no row in the topics table, so their topic and type are unknown.`,
        data instanceof Uint8Array ? data.byteLength : 0,
        timestamp,
      );
      return null;
    }
    if (!(data instanceof Uint8Array)) {
      this.tally.add(
        `data ${channel.topic}`,
        `Messages on ${channel.topic} store ${data === null ? 'NULL' : typeof data} instead of a BLOB in ` +
          `messages.data (first row id ${id}).`,
        0,
        timestamp,
      );
      increment(counts.skipped, channel.id);
      return null;
    }
    increment(counts.found, channel.id);
    return { channel, logTime: timestamp, publishTime: timestamp, data, file: this.file };
  }

  private readError(error: unknown, lastTime: bigint | null, read: number): unknown {
    if (!(error instanceof Database.SqliteError)) return error;
    const after = lastTime === null ? 'before the first message' : `after log time ${lastTime}`;
    return new RecordingError(
      this.file,
      `failed to read the messages of ${this.file} ${after} (${read} messages read): ${error.message}. ` +
        'The file may be damaged. The sqlite3 shell command `.recover` can salvage its rows into a new database',
      { cause: error },
    );
  }

  /** Yields message rows in log-time order without sorting the payloads. */
  private *rows(): Generator<MessageRow> {
    const db = this.sqlite.db;
    if (!usesTemporarySort(db)) {
      yield* db.prepare(ORDERED_MESSAGES_SQL).safeIntegers(true).raw(true).iterate() as IterableIterator<MessageRow>;
      return;
    }
    // Without an index on timestamp, SQLite would sort whole rows, payloads included, so this
    // sorts the keys alone and reads each payload through a second connection: better-sqlite3
    // allows no other statement on a connection while an iterator is open.
    const payloads = new Database(this.sqlite.openedFile, { readonly: true, fileMustExist: true });
    try {
      const dataById = payloads.prepare(DATA_BY_ID_SQL).pluck(true);
      const keys = db.prepare(ORDERED_KEYS_SQL).safeIntegers(true).raw(true).iterate() as IterableIterator<
        [bigint, bigint, bigint]
      >;
      for (const [id, topicId, timestamp] of keys) {
        yield [id, topicId, timestamp, dataById.get(id)];
      }
    } finally {
      payloads.close();
    }
  }

  /** Reports topics with fewer rows than the metadata table declares, beyond the rows already reported. */
  private compareWithDeclared(counts: RowCounts): ReadLoss[] {
    const losses: ReadLoss[] = [];
    for (const channel of this.channelList) {
      const rows = (counts.found.get(channel.id) ?? 0) + (counts.skipped.get(channel.id) ?? 0);
      if (channel.declaredCount === null || rows >= channel.declaredCount) continue;
      losses.push({
        file: this.file,
        bytes: 0,
        messages: channel.declaredCount - rows,
        startTime: null,
        endTime: null,
        reason:
          `The metadata table declares ${channel.declaredCount} messages on ${channel.topic} but the messages ` +
          `table contains ${rows}. The missing rows and their size are unknown.`,
      });
    }
    return losses;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // better-sqlite3 refuses to close a connection while a statement iterator is open.
    this.activeRows?.return(undefined);
    await this.sqlite.close();
  }
}

/**
 * Opens one rosbag2 SQLite3 file (`.db3`) of any schema version for reading, without writing
 * anything beside it. Channels are the rows of the `topics` table, with definitions from
 * `message_definitions` where the file has that table. Throws a RecordingError naming the file
 * when it is not SQLite or lacks the rosbag2 tables.
 */
export async function openRosbag2Sqlite(file: string): Promise<RecordingReader> {
  const sqlite = await openSqliteReadOnly(file);
  try {
    const tables = readRosbag2SqliteTables(sqlite.db, file);
    return new Rosbag2SqliteReader(file, sqlite, tables);
  } catch (error) {
    await sqlite.close();
    throw error;
  }
}
