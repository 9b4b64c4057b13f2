import { closeSync, existsSync, fdatasync, fdatasyncSync, ftruncateSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@fieldloop/contracts';
import { decodeAcks, encodeAcks, type AckKind } from './queue-ack-file.ts';
import type { FileLock } from '@fieldloop/dataset';
import { PayloadCache } from './payload-cache.ts';
import { acquireQueueLock } from './queue-lock.ts';
import { writeAllAt } from './write-all-at.ts';
import { encodeRecordHeader, type DecodedRecord } from './queue-record.ts';
import { ACK_SUFFIX, LOCK_FILE, OPEN_LOCK_SUFFIX, SEGMENT_SUFFIX, SPARE_SEGMENT_FILE, readOptional, readState, segmentName, syncDirectory, writeState } from './queue-files.ts';
import { scanSegment, type SegmentScan } from './queue-segment-scan.ts';
import { prepareQueueDirectory } from './legacy-queue-import.ts';
import { silentLogger } from './silent-logger.ts';

/**
 * Durability of enqueued items. `full` syncs the appended bytes (fdatasync) before `enqueue`
 * returns, so queued samples survive a power loss. `normal` does not sync, so queued samples
 * survive a killed process, but the last appends before a power loss may be lost.
 */
export type QueueSynchronous = 'full' | 'normal';

export interface OutboundQueueOptions {
  /** Directory of the queue; created when missing. A legacy SQLite queue file at this path is imported. */
  path: string;
  /** Items (MQTT messages) kept at most; default 100,000. */
  maxItems?: number;
  /** Payload bytes kept at most; default 1 GiB. */
  maxBytes?: number;
  synchronous?: QueueSynchronous;
  /** Size in bytes at which the queue starts a new segment file; default 16 MiB. */
  segmentBytes?: number;
  /** Payload bytes of recent appends kept in memory for `peek`; default 64 MiB. */
  cacheBytes?: number;
  log?: Logger;
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
  /** Items dropped by the overflow policy, or lost to a corrupt record, since the queue was created. */
  dropped: number;
}

/** One segment file and its acknowledgement file. */
interface Segment {
  firstId: number;
  logPath: string;
  ackPath: string;
  fd: number;
  ackFd: number | null;
  size: number;
  /** Items of this segment still queued. */
  live: number;
  /** Items of this segment recorded as dropped in its acknowledgement file. */
  drops: number;
  /** Background syncs of the segment file still running; its files close only after the last one. */
  syncs: number;
  /** True once the segment was closed or deleted while a background sync ran. */
  closeAfterSyncs: boolean;
}

/** Result of `enqueueManyDeferred`. */
export interface DeferredEnqueue {
  /** Older items that the overflow policy dropped to make room. */
  dropped: number;
  /** Resolves once the appended records are synced to the disk, at once with `synchronous: 'normal'`; rejects when the sync fails. */
  synced: Promise<void>;
}

/** In-memory index entry of one queued item. */
interface Entry {
  id: number;
  group: number;
  segment: Segment;
  payloadOffset: number;
  length: number;
  topic: string;
  enqueuedAt: number;
  live: boolean;
}

/**
 * A disk-backed FIFO of outgoing MQTT messages in an append-only segment log. The queue is a
 * directory of segment files (`<first id>.log`), one acknowledgement file per segment
 * (`<first id>.ack`), `state.json` and a `lock` file with the owner's pid.
 *
 * Each `enqueueMany` call appends all its records with one write and, with `synchronous: 'full'`,
 * one fdatasync. Each record carries a CRC-32, its id, its group id and its place in the group,
 * so `open` recognises a torn tail after a crash and drops only the incomplete groups there. A
 * group is the messages of one `enqueue` call, which are all chunks of one sample, so a killed
 * process leaves either the whole sample or none of it queued.
 *
 * Invalid bytes followed by a valid record (corruption in the middle of a segment) are skipped.
 * The items lost there are counted in `stats().dropped` and logged as a warning with the file
 * and offset. Removals are appended to the acknowledgement file without a sync. A segment whose
 * items are all removed is deleted, unless it is the one being appended to. One deleted segment
 * file of at least half `segmentBytes` is kept as `spare-segment` and renamed to the next new
 * segment. Overwriting its blocks costs the kernel less than allocating new ones, and its
 * deletion less than freeing them. Its old records after the new ones have lower ids, so the
 * scan on `open` finds where the segment ends.
 *
 * Overflow policy: drop oldest. When an enqueue would pass `maxItems` or `maxBytes`, the oldest
 * groups are dropped and counted in `stats().dropped`. So the newest captures are kept, and
 * enqueue never waits for the broker to make room.
 *
 * Only one process at a time may open a queue, which the `lock` file enforces on one host.
 * `open` reads every segment to check it, so it takes time in proportion to the bytes on disk.
 */
export class OutboundQueue {
  private readonly dir: string;
  private readonly maxItems: number;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly synchronous: QueueSynchronous;
  private readonly log: Logger;
  private readonly lock: FileLock;
  private readonly segments: Segment[] = [];
  /** Entries in id order; those before `head` are all removed. */
  private order: Entry[] = [];
  private head = 0;
  private readonly liveEntries = new Map<number, Entry>();
  private readonly cache: PayloadCache;
  private items = 0;
  private bytes = 0;
  private nextId = 1;
  /** Drops of segments already deleted, as stored in `state.json`. */
  private deletedDrops = 0;
  private dropped = 0;
  private opened = true;
  /** Path of the spare segment file, and whether it exists. */
  private readonly sparePath: string;
  private spareExists = false;

  private constructor(dir: string, options: OutboundQueueOptions, lock: FileLock) {
    this.dir = dir;
    this.sparePath = join(dir, SPARE_SEGMENT_FILE);
    this.lock = lock;
    this.maxItems = options.maxItems ?? 100_000;
    this.maxBytes = options.maxBytes ?? 1024 ** 3;
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 ** 2;
    this.cache = new PayloadCache(options.cacheBytes ?? 64 * 1024 ** 2);
    this.synchronous = options.synchronous ?? 'full';
    this.log = options.log ?? silentLogger;
  }

  /** Opens or creates the queue directory, imports a legacy SQLite queue file, and recovers after a crash. */
  static open(options: OutboundQueueOptions): OutboundQueue {
    for (const name of ['maxItems', 'maxBytes', 'segmentBytes', 'cacheBytes'] as const) {
      const value = options[name];
      if (value !== undefined && (!Number.isSafeInteger(value) || value < (name === 'cacheBytes' ? 0 : 1))) {
        throw new RangeError(`queue ${name} must be a ${name === 'cacheBytes' ? 'non-negative' : 'positive'} integer, got ${value}`);
      }
    }
    const log = options.log ?? silentLogger;
    // The lock inside the directory cannot guard the import of a legacy SQLite queue file at the
    // same path, so a lock file beside the path is held until the directory's lock is taken.
    const openFailure = (error: unknown): Error =>
      new Error(`opening the outbound queue ${options.path} failed: ${(error as Error).message}. Check that its directory exists and is writable.`, {
        cause: error,
      });
    let openLock: FileLock;
    try {
      openLock = acquireQueueLock(`${options.path}${OPEN_LOCK_SUFFIX}`, options.path);
    } catch (error) {
      // Errors of the lock itself name the owner and what to do; file system errors do not.
      throw (error as NodeJS.ErrnoException).code === undefined ? error : openFailure(error);
    }
    let lock: FileLock;
    try {
      try {
        prepareQueueDirectory(options.path, log);
      } catch (error) {
        throw openFailure(error);
      }
      lock = acquireQueueLock(join(options.path, LOCK_FILE), options.path);
    } finally {
      openLock.release();
    }
    const queue = new OutboundQueue(options.path, options, lock);
    try {
      queue.load();
    } catch (error) {
      queue.close();
      throw error;
    }
    return queue;
  }

  /**
   * Appends the messages of one sample as one group. Returns how many older items the overflow
   * policy dropped to make room. A group larger than the whole bound is rejected.
   */
  enqueue(messages: ReadonlyArray<OutboundMessage>): number {
    return this.enqueueMany([messages]);
  }

  /**
   * Appends several samples with one write and one sync; returns the items dropped. The queue
   * keeps the payload buffers in its cache and returns them from `peek`, so callers must not
   * change them afterwards.
   */
  enqueueMany(groups: ReadonlyArray<ReadonlyArray<OutboundMessage>>): number {
    return this.append(groups, false).dropped;
  }

  /**
   * Appends like `enqueueMany` and returns before the sync: the fdatasync runs on the libuv thread
   * pool, and `synced` resolves once it covers the records. The items can be peeked at once, so a
   * sender may publish them while the sync runs.
   */
  enqueueManyDeferred(groups: ReadonlyArray<ReadonlyArray<OutboundMessage>>): DeferredEnqueue {
    return this.append(groups, true);
  }

  private append(groups: ReadonlyArray<ReadonlyArray<OutboundMessage>>, deferSync: boolean): DeferredEnqueue {
    this.assertOpen('enqueue');
    for (const messages of groups) {
      const groupBytes = messages.reduce((sum, message) => sum + message.payload.length, 0);
      if (messages.length > this.maxItems || groupBytes > this.maxBytes) {
        throw new RangeError(
          `a sample of ${messages.length} messages and ${groupBytes} bytes does not fit in a queue bounded to ${this.maxItems} items and ${this.maxBytes} bytes; raise the bound`,
        );
      }
    }
    if (groups.every((messages) => messages.length === 0)) return { dropped: 0, synced: Promise.resolve() };
    const segment = this.activeSegment();
    const { pieces, added, nextId } = this.encodeBatch(groups, segment);
    const synced = this.appendToSegment(segment, pieces, deferSync);
    this.nextId = nextId;
    for (const group of added) group.entries.forEach((entry, index) => this.cache.set(entry.id, group.payloads[index] as Buffer));

    const drops: Entry[] = [];
    for (const group of added) {
      while (this.items + group.entries.length > this.maxItems || this.bytes + group.bytes > this.maxBytes) {
        const oldest = this.oldestGroup();
        if (oldest.length === 0) break;
        for (const entry of oldest) this.removeEntry(entry);
        drops.push(...oldest);
      }
      for (const entry of group.entries) this.addEntry(entry);
    }
    if (drops.length > 0) {
      this.dropped += drops.length;
      this.recordRemovals(drops, 'dropped');
    }
    return { dropped: drops.length, synced };
  }

  /**
   * Encodes the records of `groups` as header and payload pieces, to be written at the end of
   * `segment`. Payloads are not copied, so the cache keeps the caller's buffers.
   */
  private encodeBatch(
    groups: ReadonlyArray<ReadonlyArray<OutboundMessage>>,
    segment: Segment,
  ): { pieces: Buffer[]; added: Array<{ entries: Entry[]; payloads: Buffer[]; bytes: number }>; nextId: number } {
    const now = Date.now();
    const topics = new Map<string, Buffer>();
    const pieces: Buffer[] = [];
    const added: Array<{ entries: Entry[]; payloads: Buffer[]; bytes: number }> = [];
    let offset = segment.size;
    let id = this.nextId;
    for (const messages of groups) {
      if (messages.length === 0) continue;
      const group = id;
      const entries: Entry[] = [];
      const payloads: Buffer[] = [];
      let groupBytes = 0;
      messages.forEach((message, index) => {
        let topic = topics.get(message.topic);
        if (topic === undefined) {
          topic = Buffer.from(message.topic);
          topics.set(message.topic, topic);
        }
        const payload = Buffer.isBuffer(message.payload) ? message.payload : Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength);
        const header = encodeRecordHeader({ id, group, index, count: messages.length, enqueuedAt: now, topic, payload });
        pieces.push(header, payload);
        offset += header.length;
        entries.push({ id, group, segment, payloadOffset: offset, length: payload.length, topic: message.topic, enqueuedAt: now, live: true });
        payloads.push(payload);
        offset += payload.length;
        groupBytes += payload.length;
        id += 1;
      });
      added.push({ entries, payloads, bytes: groupBytes });
    }
    return { pieces, added, nextId: id };
  }

  /** Returns up to `limit` items with ids above `afterId`, oldest first. */
  peek(afterId: number, limit: number): QueuedMessage[] {
    this.assertOpen('peek');
    const result: QueuedMessage[] = [];
    for (let index = this.firstIndexAfter(afterId); index < this.order.length && result.length < limit; index += 1) {
      const entry = this.order[index] as Entry;
      if (!entry.live) continue;
      const payload = this.cache.get(entry.id) ?? this.readPayload(entry);
      result.push({ id: entry.id, topic: entry.topic, payload, enqueuedAt: entry.enqueuedAt });
    }
    return result;
  }

  /** Removes an item once the broker acknowledged it; removing a dropped item does nothing. */
  remove(id: number): void {
    this.removeMany([id]);
  }

  /**
   * Removes items by appending their ids to the acknowledgement files, without a sync even with
   * `synchronous: 'full'`. The removal survives a killed process, and a power loss can only bring
   * acknowledged items back. Those are sent again with their original boot id and sequence, so
   * the collector drops them as duplicates.
   */
  removeMany(ids: readonly number[]): void {
    this.assertOpen('remove');
    const removed: Entry[] = [];
    for (const id of ids) {
      const entry = this.liveEntries.get(id);
      if (entry === undefined) continue;
      this.removeEntry(entry);
      removed.push(entry);
    }
    if (removed.length > 0) this.recordRemovals(removed, 'acked');
  }

  stats(): OutboundQueueStats {
    return { items: this.items, bytes: this.bytes, dropped: this.dropped };
  }

  isOpen(): boolean {
    return this.opened;
  }

  /** Closes the files and releases the lock. Calling it twice does nothing. */
  close(): void {
    if (!this.opened) return;
    this.opened = false;
    for (const segment of this.segments) closeSegment(segment);
    this.cache.clear();
    this.lock.release();
  }

  /** Reads `state.json` and every segment, truncates a torn tail and drops incomplete groups. */
  private load(): void {
    const state = readState(this.dir);
    this.spareExists = existsSync(this.sparePath);
    this.deletedDrops = state.dropped;
    this.nextId = state.nextId;
    const names = readdirSync(this.dir);
    const firstIds = names
      .filter((name) => /^\d{16}\.log$/.test(name))
      .map((name) => Number(name.slice(0, 16)))
      .sort((a, b) => a - b);
    // An acknowledgement file without its segment is left by a crash while deleting the segment.
    for (const name of names) {
      if (name.endsWith(ACK_SUFFIX) && !names.includes(name.replace(ACK_SUFFIX, SEGMENT_SUFFIX))) unlinkIfPresent(join(this.dir, name));
    }
    firstIds.forEach((firstId, position) => {
      const last = position === firstIds.length - 1;
      this.loadSegment(firstId, last ? null : (firstIds[position + 1] as number));
    });
    this.dropped = this.deletedDrops + this.segments.reduce((sum, segment) => sum + segment.drops, 0);
    for (const segment of this.segments.slice(0, -1)) if (segment.live === 0) this.deleteSegment(segment);
  }

  /** Loads one segment; `endId` is the first id of the next segment, or null for the last one. */
  private loadSegment(firstId: number, endId: number | null): void {
    const logPath = join(this.dir, `${segmentName(firstId)}${SEGMENT_SUFFIX}`);
    const ackPath = join(this.dir, `${segmentName(firstId)}${ACK_SUFFIX}`);
    const scan = scanSegment(logPath, firstId);
    const acks = decodeAcks(readOptional(ackPath));
    const corrupt = [...scan.corrupt];
    let records = scan.records.filter((record) => record.id >= firstId && (endId === null || record.id < endId));
    const isComplete = completeGroupTest(records);
    let size = scan.size;
    if (endId === null) {
      const kept = this.cutTornTail(logPath, scan, records, isComplete);
      records = kept.records;
      size = kept.size;
    } else if (scan.tailOffset !== null && !scan.staleTail) {
      corrupt.push({ offset: scan.tailOffset, bytes: scan.size - scan.tailOffset });
    }

    const segment: Segment = { firstId, logPath, ackPath, fd: openSync(logPath, endId === null ? 'r+' : 'r'), ackFd: null, size, live: 0, drops: 0, syncs: 0, closeAfterSyncs: false };
    this.segments.push(segment);
    for (const kind of acks.values()) if (kind === 'dropped') segment.drops += 1;

    const present = new Set<number>();
    const lost: number[] = [];
    for (const record of records) {
      present.add(record.id);
      if (acks.has(record.id)) continue;
      if (!isComplete(record)) {
        lost.push(record.id);
        continue;
      }
      this.addEntry({
        id: record.id,
        group: record.group,
        segment,
        payloadOffset: record.payloadOffset,
        length: record.payloadLength,
        topic: record.topic,
        enqueuedAt: record.enqueuedAt,
        live: true,
      });
    }

    // Ids are given out without gaps, so an id of this segment's range with neither a record nor an ack was lost.
    let endOfRange = firstId;
    if (endId !== null) endOfRange = endId;
    else if (records.length > 0) endOfRange = (records[records.length - 1] as DecodedRecord).id + 1;
    for (let id = firstId; id < endOfRange; id += 1) if (!present.has(id) && !acks.has(id)) lost.push(id);
    this.nextId = Math.max(this.nextId, endOfRange);
    if (lost.length > 0) {
      this.appendAcks(segment, lost.map((id) => ({ id, kind: 'dropped' as const })));
      segment.drops += lost.length;
      this.log.warn(
        { queue: this.dir, segment: logPath, corrupt, lostItems: lost.length },
        'outbound queue: skipped corrupt records in the middle of a segment and counted their items as dropped; later items are kept',
      );
    }
  }

  /**
   * Truncates the last segment before invalid bytes at its end and before incomplete groups
   * there, which an append interrupted by a crash leaves. Returns the records and size kept.
   */
  private cutTornTail(logPath: string, scan: SegmentScan, records: DecodedRecord[], isComplete: (record: DecodedRecord) => boolean): { records: DecodedRecord[]; size: number } {
    let cut = scan.tailOffset;
    let kept = records.length;
    while (kept > 0 && !isComplete(records[kept - 1] as DecodedRecord)) {
      kept -= 1;
      cut = (records[kept] as DecodedRecord).offset;
    }
    if (cut === null) return { records, size: scan.size };
    const fd = openSync(logPath, 'r+');
    try {
      ftruncateSync(fd, cut);
    } finally {
      closeSync(fd);
    }
    // Records of a reused file's earlier use are cut without a message, unless an incomplete append lay before them.
    if (!scan.staleTail || cut !== scan.tailOffset) {
      this.log.info({ queue: this.dir, segment: logPath, offset: cut, bytes: scan.size - cut }, 'outbound queue: discarded an incomplete append at the end of the log');
    }
    return { records: records.slice(0, kept), size: cut };
  }

  private addEntry(entry: Entry): void {
    this.order.push(entry);
    this.liveEntries.set(entry.id, entry);
    entry.segment.live += 1;
    this.items += 1;
    this.bytes += entry.length;
  }

  private assertOpen(operation: string): void {
    if (!this.opened) throw new Error(`cannot ${operation}: the outbound queue ${this.dir} is closed; open it again`);
  }

  /** Returns the segment to append to, starting a new one when the last one reached `segmentBytes`. */
  private activeSegment(): Segment {
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined && last.size < this.segmentBytes) return last;
    if (last !== undefined && last.live === 0) this.deleteSegment(last);
    const name = segmentName(this.nextId);
    const logPath = join(this.dir, `${name}${SEGMENT_SUFFIX}`);
    const segment: Segment = { firstId: this.nextId, logPath, ackPath: join(this.dir, `${name}${ACK_SUFFIX}`), fd: this.openNewSegment(logPath), ackFd: null, size: 0, live: 0, drops: 0, syncs: 0, closeAfterSyncs: false };
    this.segments.push(segment);
    // The new file's directory entry must reach the disk too before its records count as synced.
    if (this.synchronous === 'full') syncDirectory(this.dir);
    return segment;
  }

  /** Opens the file of a new segment: the spare segment file renamed, or a new file. */
  private openNewSegment(logPath: string): number {
    if (this.spareExists) {
      this.spareExists = false;
      try {
        renameSync(this.sparePath, logPath);
        return openSync(logPath, 'r+');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return openSync(logPath, 'wx+');
  }

  /**
   * Writes `pieces` at the end of the segment and syncs them, now or in the background with
   * `deferSync`. On a failed write it cuts the segment back and rethrows.
   */
  private appendToSegment(segment: Segment, pieces: Buffer[], deferSync: boolean): Promise<void> {
    let written = 0;
    try {
      written = writeAllAt(segment.fd, pieces, segment.size);
      if (this.synchronous === 'full' && !deferSync) fdatasyncSync(segment.fd);
    } catch (error) {
      try {
        ftruncateSync(segment.fd, segment.size);
      } catch {
        // The torn tail is cut on the next open instead.
      }
      throw new Error(`appending to the outbound queue segment ${segment.logPath} failed: ${(error as Error).message}. Check free disk space.`, {
        cause: error,
      });
    }
    segment.size += written;
    return this.synchronous === 'full' && deferSync ? syncInBackground(segment) : Promise.resolve();
  }

  /** Returns the live entries of the oldest group. */
  private oldestGroup(): Entry[] {
    const group: Entry[] = [];
    for (let index = this.head; index < this.order.length; index += 1) {
      const entry = this.order[index] as Entry;
      if (!entry.live) continue;
      if (group.length > 0 && entry.group !== group[0]!.group) break;
      group.push(entry);
    }
    return group;
  }

  private removeEntry(entry: Entry): void {
    entry.live = false;
    this.liveEntries.delete(entry.id);
    entry.segment.live -= 1;
    this.items -= 1;
    this.bytes -= entry.length;
    this.cache.delete(entry.id);
    while (this.head < this.order.length && !(this.order[this.head] as Entry).live) this.head += 1;
    if (this.head > 4096 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Appends removals to the acknowledgement files and deletes segments left without items. */
  private recordRemovals(entries: readonly Entry[], kind: AckKind): void {
    const bySegment = new Map<Segment, Array<{ id: number; kind: AckKind }>>();
    for (const entry of entries) {
      const list = bySegment.get(entry.segment) ?? [];
      list.push({ id: entry.id, kind });
      bySegment.set(entry.segment, list);
    }
    const active = this.segments[this.segments.length - 1];
    for (const [segment, list] of bySegment) {
      if (segment.live === 0 && segment !== active) {
        if (kind === 'dropped') segment.drops += list.length;
        this.deleteSegment(segment);
        continue;
      }
      this.appendAcks(segment, list);
      if (kind === 'dropped') segment.drops += list.length;
    }
  }

  private appendAcks(segment: Segment, list: ReadonlyArray<{ id: number; kind: AckKind }>): void {
    segment.ackFd ??= openSync(segment.ackPath, 'a');
    writeSync(segment.ackFd, encodeAcks(list));
  }

  /**
   * Deletes a segment whose items are all removed. When the segment counts drops, or is the last
   * one, `state.json` is synced first, so the drop count and the next id survive a power loss.
   * Otherwise a later segment keeps the next id, and `state.json` is left as it is, which saves
   * two syncs per deleted segment while a stream runs.
   */
  private deleteSegment(segment: Segment): void {
    this.deletedDrops += segment.drops;
    const last = this.segments[this.segments.length - 1] === segment;
    if (segment.drops > 0 || last) writeState(this.dir, { nextId: this.nextId, dropped: this.deletedDrops });
    closeSegment(segment);
    if (!this.spareExists && segment.size >= this.segmentBytes / 2) this.keepAsSpare(segment.logPath);
    else unlinkIfPresent(segment.logPath);
    unlinkIfPresent(segment.ackPath);
    this.segments.splice(this.segments.indexOf(segment), 1);
  }

  /** Renames a deleted segment's file to the spare segment file, or deletes it where the rename fails. */
  private keepAsSpare(logPath: string): void {
    try {
      renameSync(logPath, this.sparePath);
      this.spareExists = true;
    } catch {
      unlinkIfPresent(logPath);
    }
  }

  private readPayload(entry: Entry): Buffer {
    const payload = Buffer.allocUnsafe(entry.length);
    let read = 0;
    while (read < entry.length) {
      const count = readSync(entry.segment.fd, payload, read, entry.length - read, entry.payloadOffset + read);
      if (count === 0) throw new Error(`outbound queue segment ${entry.segment.logPath} ends before item ${entry.id} at offset ${entry.payloadOffset}, so the file was truncated after the queue opened it. Close and reopen the queue ${this.dir}, which recovers the records that remain.`);
      read += count;
    }
    return payload;
  }

  /** Index in `order` of the first entry with an id above `afterId`. */
  private firstIndexAfter(afterId: number): number {
    let low = this.head;
    let high = this.order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.order[middle] as Entry).id <= afterId) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Syncs a segment file on the libuv thread pool; its descriptors stay open until the sync ends. */
function syncInBackground(segment: Segment): Promise<void> {
  segment.syncs += 1;
  return new Promise<void>((resolve, reject) => {
    fdatasync(segment.fd, (error) => {
      segment.syncs -= 1;
      if (segment.syncs === 0 && segment.closeAfterSyncs) closeSegment(segment);
      if (error === null) resolve();
      else reject(new Error(`syncing the outbound queue segment ${segment.logPath} failed: ${error.message}. Check the disk.`, { cause: error }));
    });
  });
}

/** Closes a segment's files, or marks them to close after its running background syncs. */
function closeSegment(segment: Segment): void {
  if (segment.syncs > 0) {
    segment.closeAfterSyncs = true;
    return;
  }
  closeSync(segment.fd);
  if (segment.ackFd !== null) closeSync(segment.ackFd);
  segment.ackFd = null;
}

function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** Returns a test of whether a record's group has all its messages among `records`. */
function completeGroupTest(records: readonly DecodedRecord[]): (record: DecodedRecord) => boolean {
  const indexes = new Map<number, Set<number>>();
  for (const record of records) {
    const seen = indexes.get(record.group) ?? new Set<number>();
    seen.add(record.index);
    indexes.set(record.group, seen);
  }
  return (record) => indexes.get(record.group)?.size === record.count;
}
