/**
 * Reading of ROS 1 bags whose index is missing or unusable, for example after power loss during
 * recording. The planner walks the records from the start of the file once, learning connections
 * and the time range of every chunk. The message pass then reads those chunks again in time order.
 */
import type { FileHandle } from 'node:fs/promises';
import type { RawMessage, ReadLoss, RecordingChannel } from './recording-reader.ts';
import { RecordingError } from './recording-reader.ts';
import { isSupportedCompression, loadDecompressorFor, unsupportedCompressionError } from './ros1-decompress.ts';
import { readBytesAt, readRecordHeaderAt } from './ros1-file.ts';
import {
  fieldString,
  fieldTimeNs,
  fieldUint32,
  parseConnectionRecord,
  readRecord,
  ROS1_BAG_MAGIC,
  Ros1Op,
  type Ros1Connection,
  type Ros1HeaderFields,
  type Ros1Record,
  type Ros1RecordHeader,
} from './ros1-record.ts';

/** A byte range of the file whose message records the message pass reads again. */
export interface Ros1SalvageSegment {
  /** File offset of chunk data, or of top-level records that lie outside any chunk. */
  position: number;
  length: number;
  /** `none`, `bz2` or `lz4`. */
  compression: string;
  uncompressedSize: number;
  /** Bytes of the uncompressed data that hold complete, valid records. */
  recordLimit: number;
  startTime: bigint;
  endTime: bigint;
}

export interface Ros1SalvagePlan {
  connections: Map<number, Ros1Connection>;
  segments: Ros1SalvageSegment[];
  losses: ReadLoss[];
  messageCount: number;
}

/** The file to salvage and why its index cannot be used. */
export interface Ros1SalvageContext {
  path: string;
  fileSize: number;
  /** Index position that the bag header states, or 0 when it states none. */
  indexPosition: number;
  /** One sentence, without a final period, saying why the index is not used. */
  reason: string;
}

/** Stop position of the walk over the file, and its cause. */
interface WalkStop {
  offset: number;
  problem: string;
  /** Log time of a message whose record the file cuts, when its header is complete. */
  cutTime: bigint | null;
}

interface ConnectionTally {
  count: number;
  bytes: number;
  startTime: bigint;
  endTime: bigint;
}

class SegmentScan {
  count = 0;
  startTime = 0n;
  endTime = 0n;

  add(time: bigint): void {
    if (this.count === 0 || time < this.startTime) this.startTime = time;
    if (this.count === 0 || time > this.endTime) this.endTime = time;
    this.count += 1;
  }
}

interface RecordWalk {
  /** Offset after the last complete, valid record. */
  end: number;
  problem: string | null;
  /** Header of a record that the data cuts, when that header is complete. */
  cut: Ros1RecordHeader | null;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function opName(op: number): string {
  return `0x${op.toString(16).padStart(2, '0')}`;
}

/** Walks the records in `data`, stopping at the first record that is cut, invalid or rejected by `visit`. */
function walkRecords(data: Uint8Array, visit: (record: Ros1Record) => void): RecordWalk {
  let offset = 0;
  while (offset < data.length) {
    const read = readRecord(data, offset);
    if (read.kind === 'invalid') {
      return { end: offset, problem: `the record at offset ${offset} is invalid (${read.reason})`, cut: null };
    }
    if (read.kind === 'truncated') {
      return { end: offset, problem: `the record at offset ${offset} is cut`, cut: read.header };
    }
    try {
      visit(read.record);
    } catch (error) {
      return { end: offset, problem: `the record at offset ${offset} is invalid (${errorMessage(error)})`, cut: null };
    }
    offset = read.record.end;
  }
  return { end: offset, problem: null, cut: null };
}

function messageTimeOrNull(fields: Ros1HeaderFields): bigint | null {
  try {
    return fieldTimeNs(fields, 'time');
  } catch {
    return null;
  }
}

class SalvagePlanner {
  private readonly connections = new Map<number, Ros1Connection>();
  private readonly segments: Ros1SalvageSegment[] = [];
  private readonly losses: ReadLoss[] = [];
  private readonly tallies = new Map<number, ConnectionTally>();
  private loose: { start: number; end: number; scan: SegmentScan } | null = null;
  private messageCount = 0;
  private lastTime: bigint | null = null;

  constructor(
    private readonly handle: FileHandle,
    private readonly context: Ros1SalvageContext,
  ) {}

  async run(): Promise<Ros1SalvagePlan> {
    const { fileSize } = this.context;
    let position = ROS1_BAG_MAGIC.length;
    let stop: WalkStop | null = null;

    while (position < fileSize && stop === null) {
      const read = await readRecordHeaderAt(this.handle, position, fileSize);
      if (read.kind === 'truncated') {
        const problem = `the file ends inside the record header at byte ${position}`;
        stop = { offset: position, problem, cutTime: null };
      } else if (read.kind === 'invalid') {
        const problem = `the record at byte ${position} is invalid (${read.reason})`;
        stop = { offset: position, problem, cutTime: null };
      } else if (read.header.end > fileSize) {
        this.closeLoose();
        stop = await this.scanCutRecord(read.header);
      } else {
        stop = await this.scanRecord(read.header);
        position = read.header.end;
      }
    }
    this.closeLoose();

    if (stop !== null) this.losses.push(this.describeStop(stop));
    this.addUnknownConnectionLosses();
    return {
      connections: this.connections,
      segments: this.segments,
      losses: this.losses,
      messageCount: this.messageCount,
    };
  }

  /** Scans one complete top-level record and returns a stop when the record is not valid there. */
  private async scanRecord(header: Ros1RecordHeader): Promise<WalkStop | null> {
    const invalid = (problem: string): WalkStop => ({
      offset: header.offset,
      problem: `the record at byte ${header.offset} is invalid (${problem})`,
      cutTime: null,
    });
    try {
      switch (header.op) {
        case Ros1Op.BagHeader:
          return header.offset === ROS1_BAG_MAGIC.length ? null : invalid('a second bag header record');
        case Ros1Op.MessageData: {
          const time = this.tallyMessage(header.fields, header.dataLength);
          this.extendLoose(header).add(time);
          return null;
        }
        case Ros1Op.Connection: {
          const data = await readBytesAt(this.handle, header.dataOffset, header.dataLength);
          this.addConnection(parseConnectionRecord(header.fields, data));
          this.extendLoose(header);
          return null;
        }
        case Ros1Op.Chunk:
          this.closeLoose();
          await this.scanChunk(header);
          return null;
        case Ros1Op.IndexData:
        case Ros1Op.ChunkInfo:
          this.closeLoose();
          return null;
        default:
          return invalid(`unknown op ${opName(header.op)}`);
      }
    } catch (error) {
      if (error instanceof RecordingError) throw error;
      return invalid(errorMessage(error));
    }
  }

  private async scanChunk(header: Ros1RecordHeader): Promise<void> {
    const { path } = this.context;
    const compression = fieldString(header.fields, 'compression');
    const uncompressedSize = fieldUint32(header.fields, 'size');
    const raw = await readBytesAt(this.handle, header.dataOffset, header.dataLength);
    let data = raw;
    if (compression !== 'none') {
      if (!isSupportedCompression(compression)) throw unsupportedCompressionError(path, compression, header.offset);
      const decompress = await loadDecompressorFor(path, compression);
      try {
        data = decompress(raw, uncompressedSize);
      } catch (error) {
        this.losses.push({
          file: path,
          bytes: header.end - header.offset,
          messages: null,
          startTime: null,
          endTime: null,
          reason:
            `The ${compression} chunk at byte ${header.offset} of ${path} failed to decompress ` +
            `(${errorMessage(error)}), so its messages were skipped.`,
        });
        return;
      }
    }

    const scan = new SegmentScan();
    const walk = walkRecords(data, (record) => this.visitChunkRecord(data, record, scan));
    if (walk.problem !== null) {
      // Compressed bytes cannot be mapped to records, so a damaged compressed chunk counts in full.
      const lostBytes = compression === 'none' ? data.length - walk.end : header.end - header.offset;
      this.losses.push({
        file: path,
        bytes: lostBytes,
        messages: null,
        startTime: null,
        endTime: null,
        reason:
          `In the chunk at byte ${header.offset} of ${path}, ${walk.problem}. ` +
          `The ${scan.count} messages before it were read and the rest of the chunk was skipped.`,
      });
    }
    this.addSegment(
      {
        position: header.dataOffset,
        length: header.dataLength,
        compression,
        uncompressedSize,
        recordLimit: walk.end,
      },
      scan,
    );
  }

  /** Scans a record that the end of the file cuts, keeping the complete messages of an uncompressed chunk. */
  private async scanCutRecord(header: Ros1RecordHeader): Promise<WalkStop> {
    const where = `byte ${header.offset}`;
    if (header.op === Ros1Op.MessageData) {
      return {
        offset: header.offset,
        problem: `the file ends inside the message record at ${where}`,
        cutTime: messageTimeOrNull(header.fields),
      };
    }
    if (header.op !== Ros1Op.Chunk) {
      const problem = `the file ends inside the op ${opName(header.op)} record at ${where}`;
      return { offset: header.offset, problem, cutTime: null };
    }

    let compression: string;
    try {
      compression = fieldString(header.fields, 'compression');
    } catch (error) {
      const problem = `the chunk record at ${where} is invalid (${errorMessage(error)})`;
      return { offset: header.offset, problem, cutTime: null };
    }
    if (compression !== 'none') {
      return {
        offset: header.offset,
        problem:
          `the file ends inside the ${compression} chunk record at ${where}, ` +
          'whose messages cannot be decompressed from a part',
        cutTime: null,
      };
    }

    const available = this.context.fileSize - header.dataOffset;
    const data = await readBytesAt(this.handle, header.dataOffset, available);
    const scan = new SegmentScan();
    const walk = walkRecords(data, (record) => this.visitChunkRecord(data, record, scan));
    this.addSegment(
      {
        position: header.dataOffset,
        length: walk.end,
        compression: 'none',
        uncompressedSize: walk.end,
        recordLimit: walk.end,
      },
      scan,
    );
    const cutTime = walk.cut !== null && walk.cut.op === Ros1Op.MessageData ? messageTimeOrNull(walk.cut.fields) : null;
    return {
      offset: header.dataOffset + walk.end,
      problem:
        `the file ends inside the uncompressed chunk record at ${where}, ` +
        `after ${scan.count} complete messages in it`,
      cutTime,
    };
  }

  private visitChunkRecord(data: Uint8Array, record: Ros1Record, scan: SegmentScan): void {
    if (record.op === Ros1Op.MessageData) {
      scan.add(this.tallyMessage(record.fields, record.dataLength));
    } else if (record.op === Ros1Op.Connection) {
      this.addConnection(parseConnectionRecord(record.fields, data.subarray(record.dataOffset, record.end)));
    }
  }

  /** Counts one message record per connection and returns its log time. */
  private tallyMessage(fields: Ros1HeaderFields, dataLength: number): bigint {
    const conn = fieldUint32(fields, 'conn');
    const time = fieldTimeNs(fields, 'time');
    const tally = this.tallies.get(conn);
    if (tally === undefined) {
      this.tallies.set(conn, { count: 1, bytes: dataLength, startTime: time, endTime: time });
    } else {
      tally.count += 1;
      tally.bytes += dataLength;
      if (time < tally.startTime) tally.startTime = time;
      if (time > tally.endTime) tally.endTime = time;
    }
    return time;
  }

  private addConnection(connection: Ros1Connection): void {
    if (!this.connections.has(connection.conn)) this.connections.set(connection.conn, connection);
  }

  private extendLoose(header: Ros1RecordHeader): SegmentScan {
    this.loose ??= { start: header.offset, end: header.offset, scan: new SegmentScan() };
    this.loose.end = header.end;
    return this.loose.scan;
  }

  private closeLoose(): void {
    if (this.loose === null) return;
    const length = this.loose.end - this.loose.start;
    this.addSegment(
      { position: this.loose.start, length, compression: 'none', uncompressedSize: length, recordLimit: length },
      this.loose.scan,
    );
    this.loose = null;
  }

  private addSegment(range: Omit<Ros1SalvageSegment, 'startTime' | 'endTime'>, scan: SegmentScan): void {
    if (scan.count === 0) return;
    this.segments.push({ ...range, startTime: scan.startTime, endTime: scan.endTime });
    this.messageCount += scan.count;
    if (this.lastTime === null || scan.endTime > this.lastTime) this.lastTime = scan.endTime;
  }

  private describeStop(stop: WalkStop): ReadLoss {
    const { path, fileSize, indexPosition, reason } = this.context;
    const bytes = fileSize - stop.offset;
    // Every chunk lies before the index, so a walk that reached the index has lost no messages.
    const indexReached = indexPosition > 0 && stop.offset >= indexPosition;
    const recovered =
      this.messageCount === 0 ? 'no messages' : `${this.messageCount} messages up to log time ${this.lastTime} ns`;
    const lostMessages = indexReached ? ', but no messages are lost because every chunk lies before the index' : '';
    return {
      file: path,
      bytes,
      messages: indexReached ? 0 : null,
      startTime: indexReached ? null : stop.cutTime,
      endTime: null,
      reason:
        `${reason}. Reading records from the start recovered ${recovered} and stopped because ${stop.problem}, ` +
        `so the last ${bytes} bytes were not read${lostMessages}.`,
    };
  }

  private addUnknownConnectionLosses(): void {
    for (const [conn, tally] of this.tallies) {
      if (this.connections.has(conn)) continue;
      this.messageCount -= tally.count;
      this.losses.push({
        file: this.context.path,
        bytes: tally.bytes,
        messages: tally.count,
        startTime: tally.startTime,
        endTime: tally.endTime,
        reason:
          `${tally.count} messages in ${this.context.path} use connection id ${conn}, ` +
          'but no connection record with that id remains, so their topic and type are unknown and they were skipped.',
      });
    }
  }
}

/** Walks a bag without using its index and plans which byte ranges hold its messages. */
export function planRos1Salvage(handle: FileHandle, context: Ros1SalvageContext): Promise<Ros1SalvagePlan> {
  return new SalvagePlanner(handle, context).run();
}

async function readSegmentMessages(
  handle: FileHandle,
  path: string,
  segment: Ros1SalvageSegment,
  byConnection: ReadonlyMap<number, RecordingChannel>,
  output: RawMessage[],
): Promise<void> {
  const raw = await readBytesAt(handle, segment.position, segment.length);
  if (raw.length < segment.length) {
    throw new RecordingError(
      path,
      `${path} became shorter while it was read; reopen the bag once nothing writes to it`,
    );
  }
  let data = raw;
  if (segment.compression !== 'none' && isSupportedCompression(segment.compression)) {
    const decompress = await loadDecompressorFor(path, segment.compression);
    data = decompress(raw, segment.uncompressedSize);
  }
  walkRecords(data.subarray(0, segment.recordLimit), (record) => {
    if (record.op !== Ros1Op.MessageData) return;
    const channel = byConnection.get(fieldUint32(record.fields, 'conn'));
    if (channel === undefined) return;
    const logTime = fieldTimeNs(record.fields, 'time');
    output.push({
      channel,
      logTime,
      publishTime: logTime,
      data: data.slice(record.dataOffset, record.end),
      file: path,
    });
  });
}

function compareBigint(a: bigint, b: bigint): number {
  if (a < b) return -1;
  return a > b ? 1 : 0;
}

/**
 * Yields the messages of a salvage plan in log-time order. Segments whose time ranges overlap are
 * loaded together and sorted, so memory keeps one group of overlapping chunks at a time.
 */
export async function* readSalvagedMessages(
  handle: FileHandle,
  path: string,
  plan: Ros1SalvagePlan,
  byConnection: ReadonlyMap<number, RecordingChannel>,
): AsyncGenerator<RawMessage> {
  const ordered = [...plan.segments].sort((a, b) => compareBigint(a.startTime, b.startTime));
  let next = 0;
  while (next < ordered.length) {
    const group = [ordered[next]!];
    let groupEnd = ordered[next]!.endTime;
    next += 1;
    while (next < ordered.length && ordered[next]!.startTime <= groupEnd) {
      const segment = ordered[next]!;
      group.push(segment);
      if (segment.endTime > groupEnd) groupEnd = segment.endTime;
      next += 1;
    }

    const messages: RawMessage[] = [];
    for (const segment of group) await readSegmentMessages(handle, path, segment, byConnection, messages);
    messages.sort((a, b) => compareBigint(a.logTime, b.logTime));
    yield* messages;
  }
}
