import Database from 'better-sqlite3';

/**
 * SQLite `synchronous` level of the queue. `full` syncs the write-ahead log on every commit, so
 * queued samples survive a power loss. `normal` syncs only at checkpoints, so queued samples
 * survive a killed process, but the last commits before a power loss may be lost.
 */
export type QueueSynchronous = 'full' | 'normal';

export interface OutboundQueueOptions {
  /** SQLite file of the queue; created when missing. */
  path: string;
  /** Items (MQTT messages) kept at most; default 100,000. */
  maxItems?: number;
  /** Payload bytes kept at most; default 1 GiB. */
  maxBytes?: number;
  synchronous?: QueueSynchronous;
}

/** One MQTT message to queue. */
export interface OutboundMessage {
  topic: string;
  payload: Uint8Array;
}

/** One MQTT message waiting for its PUBACK. */
export interface QueuedMessage {
  id: number;
  topic: string;
  payload: Buffer;
  /** Milliseconds since the Unix epoch. */
  enqueuedAt: number;
}

export interface OutboundQueueStats {
  items: number;
  bytes: number;
  /** Items dropped by the overflow policy since the queue file was created. */
  dropped: number;
}

interface QueueRow {
  id: number;
  topic: string;
  payload: Buffer;
  enqueued_at: number;
}

/**
 * A disk-backed FIFO of outgoing MQTT messages in one SQLite file in WAL mode. SQLite gives
 * atomic multi-row commits and crash recovery, so a killed process leaves either the whole
 * sample or none of it queued. An append-only file would need its own recovery code for that.
 *
 * Overflow policy: drop oldest. When an enqueue would pass `maxItems` or `maxBytes`, the oldest
 * groups are dropped and counted in `stats().dropped`. A group is the messages of one `enqueue`
 * call, which are all chunks of one sample. So the newest captures are kept, and enqueue
 * never waits for the broker to make room.
 */
export class OutboundQueue {
  private readonly db: Database.Database;
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private items: number;
  private readonly statements = new Map<string, Database.Statement>();
  private bytes: number;
  private readonly synchronous: QueueSynchronous;

  private constructor(db: Database.Database, maxItems: number, maxBytes: number, synchronous: QueueSynchronous) {
    this.db = db;
    this.synchronous = synchronous;
    this.maxItems = maxItems;
    this.maxBytes = maxBytes;
    const totals = db.prepare('SELECT count(*) AS items, coalesce(sum(length(payload)), 0) AS bytes FROM queue').get() as { items: number; bytes: number };
    this.items = totals.items;
    this.bytes = totals.bytes;
  }

  /** Opens or creates the queue file. */
  static open(options: OutboundQueueOptions): OutboundQueue {
    const maxItems = options.maxItems ?? 100_000;
    const maxBytes = options.maxBytes ?? 1024 ** 3;
    if (!Number.isSafeInteger(maxItems) || maxItems < 1) throw new RangeError(`queue maxItems must be a positive integer, got ${maxItems}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`queue maxBytes must be a positive integer, got ${maxBytes}`);
    let db: Database.Database;
    try {
      db = new Database(options.path);
    } catch (error) {
      throw new Error(`opening the outbound queue ${options.path} failed: ${(error as Error).message}. Check that its directory exists and is writable.`, { cause: error });
    }
    db.pragma('journal_mode = WAL');
    const synchronous = options.synchronous ?? 'full';
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    db.exec(`
      CREATE TABLE IF NOT EXISTS queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        grp INTEGER NOT NULL,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        enqueued_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS queue_grp ON queue (grp);
      CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT OR IGNORE INTO counters VALUES ('dropped', 0), ('group', 0);
    `);
    return new OutboundQueue(db, maxItems, maxBytes, synchronous);
  }

  /**
   * Appends the messages of one sample in one transaction. Returns how many older items the
   * overflow policy dropped to make room. A group larger than the whole bound is rejected.
   */
  enqueue(messages: ReadonlyArray<OutboundMessage>): number {
    return this.enqueueMany([messages]);
  }

  /** Appends several samples in one transaction, so one sync covers them all; returns the items dropped. */
  enqueueMany(groups: ReadonlyArray<ReadonlyArray<OutboundMessage>>): number {
    for (const messages of groups) {
      const groupBytes = messages.reduce((sum, message) => sum + message.payload.length, 0);
      if (messages.length > this.maxItems || groupBytes > this.maxBytes) {
        throw new RangeError(
          `a sample of ${messages.length} messages and ${groupBytes} bytes does not fit in a queue bounded to ${this.maxItems} items and ${this.maxBytes} bytes; raise the bound`,
        );
      }
    }
    const run = this.db.transaction(() => {
      let dropped = 0;
      for (const messages of groups) dropped += this.appendGroup(messages);
      if (dropped > 0) this.sql("UPDATE counters SET value = value + ? WHERE name = 'dropped'").run(dropped);
      return dropped;
    });
    return run.immediate();
  }

  /** Returns up to `limit` items with ids above `afterId`, oldest first. */
  peek(afterId: number, limit: number): QueuedMessage[] {
    const rows = this.sql('SELECT id, topic, payload, enqueued_at FROM queue WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as QueueRow[];
    return rows.map((row) => ({ id: row.id, topic: row.topic, payload: row.payload, enqueuedAt: row.enqueued_at }));
  }

  /** Removes an item once the broker acknowledged it; removing a dropped item does nothing. */
  remove(id: number): void {
    this.removeMany([id]);
  }

  /**
   * Removes items in one transaction. The transaction is not synced to disk, even with
   * `synchronous: 'full'`: it survives a killed process, and a power loss can only bring
   * acknowledged items back. Those are sent again with their original boot id and sequence, so
   * the collector drops them as duplicates. The next synced commit (or checkpoint) also makes the
   * removal durable, because it syncs the write-ahead log up to its own end.
   */
  removeMany(ids: readonly number[]): void {
    if (this.synchronous === 'full') this.db.pragma('synchronous = NORMAL');
    try {
      this.removeInTransaction(ids);
    } finally {
      if (this.synchronous === 'full') this.db.pragma('synchronous = FULL');
    }
  }

  private removeInTransaction(ids: readonly number[]): void {
    const run = this.db.transaction(() => {
      const remove = this.sql('DELETE FROM queue WHERE id = ? RETURNING length(payload) AS bytes');
      for (const id of ids) {
        const removed = remove.get(id) as { bytes: number } | undefined;
        if (removed === undefined) continue;
        this.items -= 1;
        this.bytes -= removed.bytes;
      }
    });
    run.immediate();
  }

  stats(): OutboundQueueStats {
    const dropped = (this.sql("SELECT value FROM counters WHERE name = 'dropped'").get() as { value: number }).value;
    return { items: this.items, bytes: this.bytes, dropped };
  }

  isOpen(): boolean {
    return this.db.open;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Drops the oldest groups until `messages` fits, then inserts them as a new group; returns the items dropped. */
  private appendGroup(messages: ReadonlyArray<OutboundMessage>): number {
    const groupBytes = messages.reduce((sum, message) => sum + message.payload.length, 0);
    let dropped = 0;
    while (this.items + messages.length > this.maxItems || this.bytes + groupBytes > this.maxBytes) {
      const oldest = this.sql('SELECT grp FROM queue ORDER BY id LIMIT 1').get() as { grp: number } | undefined;
      if (oldest === undefined) break;
      const removed = this.sql('DELETE FROM queue WHERE grp = ? RETURNING length(payload) AS bytes').all(oldest.grp) as Array<{ bytes: number }>;
      dropped += removed.length;
      this.items -= removed.length;
      this.bytes -= removed.reduce((sum, row) => sum + row.bytes, 0);
    }
    const group = (this.sql("UPDATE counters SET value = value + 1 WHERE name = 'group' RETURNING value").get() as { value: number }).value;
    const insert = this.sql('INSERT INTO queue (grp, topic, payload, enqueued_at) VALUES (?, ?, ?, ?)');
    const now = Date.now();
    for (const message of messages) insert.run(group, message.topic, message.payload, now);
    this.items += messages.length;
    this.bytes += groupBytes;
    return dropped;
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
}
