import { closeSync, fdatasync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeAllAt } from './write-all-at.ts';

/** Location of one payload in the journal, and its CRC-32, as the collector state stores them. */
export interface JournalRecordRef {
  segment: number;
  /** Byte offset of the record header in the segment file. */
  offset: number;
  /** Payload bytes, without the header. */
  length: number;
  crc: number;
}

/** Record header: magic, payload length and CRC-32 of the payload, each a 32-bit big-endian word. */
const RECORD_MAGIC = 0x464c4a31; // "FLJ1"
const HEADER_BYTES = 12;
const SEGMENT_NAME = /^(\d{10})\.log$/;

function segmentName(segment: number): string {
  return `${String(segment).padStart(10, '0')}.log`;
}

function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

/**
 * An append-only file log of received sample payloads, in numbered segment files in one
 * directory. The collector state keeps only each payload's `JournalRecordRef`, so a payload is
 * written once and read once instead of passing through SQLite's WAL, its checkpoint copy and a
 * read back.
 *
 * `append` only buffers. `flush` writes the buffer with one write call, and the caller does so
 * before it commits the rows that refer to the records, so a killed process leaves every referenced
 * record in the page cache. `sync` makes the records survive a power loss. A record that a crash
 * tore or lost fails `read`'s CRC check, so the state can drop the rows that refer to it.
 * Segments roll over at `segmentBytes`; `removeSegmentsExcept` deletes older ones that no row
 * refers to. Each open starts a new segment, so a torn tail is never appended to.
 * Only one process may use a journal directory at a time, because a second one would delete the
 * first one's segments as unreferenced. `CollectorState` holds a lock file beside its state file
 * that ensures it.
 */
export class IntakeJournal {
  readonly dir: string;
  private readonly segmentBytes: number;
  private segment: number;
  private fd: number;
  /** Bytes written to the current segment, buffered ones excluded. */
  private written = 0;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** The failed write since the last `discard`; rows of records buffered before it must not commit. */
  private writeFailure: Error | null = null;
  /** File descriptors of older segments opened for reading, by segment. */
  private readonly readers = new Map<number, number>();
  private readonly syncsInFlight = new Set<Promise<void>>();
  /** Sizes of segments before the current one, by segment. */
  private readonly sealedSizes = new Map<number, number>();
  /** Sync and close of every rolled-over segment, one after another; each `sync` waits for it. */
  private retired: Promise<void> = Promise.resolve();

  constructor(dir: string, segmentBytes = 64 * 1024 * 1024) {
    this.dir = dir;
    this.segmentBytes = segmentBytes;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new Error(`creating the collector's intake journal directory ${dir} failed: ${(error as Error).message}. Check that its parent is writable.`, {
        cause: error,
      });
    }
    const segments = this.segments();
    this.segment = (segments.at(-1) ?? 0) + 1;
    this.fd = this.createSegment(this.segment);
  }

  /** Buffers one record and returns where it will lie once `flush` has written it. */
  append(payload: Buffer): JournalRecordRef {
    if (this.written > 0 && this.written + this.bufferedBytes + HEADER_BYTES + payload.length > this.segmentBytes) this.rollOver();
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    const crc = crc32(payload);
    header.writeUInt32BE(RECORD_MAGIC, 0);
    header.writeUInt32BE(payload.length, 4);
    header.writeUInt32BE(crc, 8);
    const ref = { segment: this.segment, offset: this.written + this.bufferedBytes, length: payload.length, crc };
    this.buffered.push(header, payload);
    this.bufferedBytes += HEADER_BYTES + payload.length;
    return ref;
  }

  /**
   * Writes the buffered records to the current segment. On a failed write the segment is cut back
   * to its last whole record and the buffer is dropped, so the caller must roll back the rows
   * that refer to it. Every later `flush` throws the same error until `discard` is called.
   */
  flush(): void {
    if (this.writeFailure !== null) throw this.writeFailure;
    if (this.bufferedBytes === 0) return;
    const buffers = this.buffered;
    const total = this.bufferedBytes;
    this.buffered = [];
    this.bufferedBytes = 0;
    try {
      // Gathering writes put headers and payloads in place without copying them into one buffer first.
      writeAllAt(this.fd, buffers, this.written);
    } catch (error) {
      ftruncateSync(this.fd, this.written);
      this.writeFailure = new Error(`writing ${total} bytes to the intake journal ${this.path(this.segment)} failed: ${(error as Error).message}`, {
        cause: error,
      });
      throw this.writeFailure;
    }
    this.written += total;
  }

  /** Drops the records buffered since the last `flush`, and a write failure, for a transaction that rolled back. */
  discard(): void {
    this.buffered = [];
    this.bufferedBytes = 0;
    this.writeFailure = null;
  }

  /**
   * Syncs every record written so far with fdatasync on the libuv thread pool. A failed sync of a
   * rolled-over segment fails every later call too, because its records may be lost.
   */
  async sync(): Promise<void> {
    const current = datasync(this.fd);
    this.syncsInFlight.add(current);
    try {
      await Promise.all([current, this.retired]);
    } catch (error) {
      throw new Error(`syncing the intake journal ${this.dir} failed: ${(error as Error).message}`, { cause: error });
    } finally {
      this.syncsInFlight.delete(current);
    }
  }

  /** Returns a record's payload, or null when the record is missing, torn or not the one referred to. */
  read(ref: JournalRecordRef): Buffer | null {
    const fd = this.reader(ref.segment);
    if (fd === null) return null;
    const record = Buffer.allocUnsafe(HEADER_BYTES + ref.length);
    const bytes = readSync(fd, record, 0, record.length, ref.offset);
    if (bytes !== record.length) return null;
    if (record.readUInt32BE(0) !== RECORD_MAGIC || record.readUInt32BE(4) !== ref.length || record.readUInt32BE(8) !== ref.crc) return null;
    const payload = record.subarray(HEADER_BYTES);
    return crc32(payload) === ref.crc ? payload : null;
  }

  /** Path of a segment file. */
  segmentPath(segment: number): string {
    return this.path(segment);
  }

  /** Bytes of a segment before the current one: known from this process's writes, or read from the file. */
  sealedSize(segment: number): number {
    let size = this.sealedSizes.get(segment);
    if (size === undefined) {
      size = statSync(this.path(segment)).size;
      this.sealedSizes.set(segment, size);
    }
    return size;
  }

  /** Byte offset in its segment file of the payload of a record. */
  static payloadOffset(ref: JournalRecordRef): number {
    return ref.offset + HEADER_BYTES;
  }

  /**
   * Starts a new segment unless the current one is empty, so every record written so far lies in
   * a file that no write changes again. A data set store may then take those files in as packs.
   */
  seal(): void {
    if (this.written + this.bufferedBytes > 0) this.rollOver();
  }

  /** Deletes the segment files before the current one that are not in `referenced`. */
  removeSegmentsExcept(referenced: ReadonlySet<number>): void {
    for (const segment of this.segments()) {
      if (segment >= this.segment || referenced.has(segment)) continue;
      const reader = this.readers.get(segment);
      if (reader !== undefined) closeSync(reader);
      this.readers.delete(segment);
      rmSync(this.path(segment), { force: true });
      this.sealedSizes.delete(segment);
    }
  }

  /**
   * Closes the files and drops buffered records. A sync still running then fails or covers
   * nothing, so call it only after the last `sync` resolved. A rolled-over segment closes itself.
   */
  close(): void {
    this.discard();
    for (const fd of this.readers.values()) closeSync(fd);
    this.readers.clear();
    closeSync(this.fd);
  }

  private path(segment: number): string {
    return join(this.dir, segmentName(segment));
  }

  private segments(): number[] {
    return readdirSync(this.dir)
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((digits): digits is string => digits !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** Creates a segment file and syncs the directory, so the file's name survives a power loss. */
  private createSegment(segment: number): number {
    const fd = openSync(this.path(segment), 'wx+');
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return fd;
  }

  private rollOver(): void {
    this.flush();
    const old = this.fd;
    const running = [...this.syncsInFlight];
    // The old segment is synced before it is closed, and closed only after syncs that use its descriptor.
    this.retired = Promise.all([this.retired, ...running.map((sync) => sync.catch(() => undefined))])
      .then(() => datasync(old))
      .finally(() => closeSync(old));
    // The next `sync` reports a failure, so Node.js must not treat it as unhandled before then.
    this.retired.catch(() => undefined);
    this.sealedSizes.set(this.segment, this.written);
    this.segment += 1;
    this.fd = this.createSegment(this.segment);
    this.written = 0;
  }

  private reader(segment: number): number | null {
    if (segment === this.segment) return this.fd;
    let fd = this.readers.get(segment);
    if (fd === undefined) {
      try {
        fd = openSync(this.path(segment), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new Error(`opening the intake journal segment ${this.path(segment)} failed: ${(error as Error).message}`, { cause: error });
      }
      this.readers.set(segment, fd);
    }
    return fd;
  }
}
