import { crc32 } from 'node:zlib';

/**
 * Record layout of an outbound queue segment file, little endian. Offsets in bytes:
 *   0 magic u32
 *   4 CRC-32 u32 of bytes 8 to the record's end
 *   8 payload length u32, 12 topic length u16, 14 reserved u16
 *   16 id u64, 24 group id u64, 32 index in the group u32, 36 messages in the group u32
 *   40 enqueued at f64 (milliseconds since the Unix epoch)
 *   48 topic (UTF-8), then the payload
 * Ids are stored as two u32 halves, so they stay exact up to Number.MAX_SAFE_INTEGER.
 */
export const RECORD_MAGIC = 0x31514c46; // "FLQ1" read as little endian
export const RECORD_HEADER_BYTES = 48;
const TWO_TO_32 = 2 ** 32;
const MAGIC_BYTES = Buffer.alloc(4);
MAGIC_BYTES.writeUInt32LE(RECORD_MAGIC, 0);

/** One message of a group, as written to a segment. */
export interface RecordInput {
  id: number;
  group: number;
  index: number;
  count: number;
  enqueuedAt: number;
  topic: Buffer;
  payload: Uint8Array;
}

/** A record read back from a segment; `offset` is where the record starts, `payloadOffset` where its payload starts. */
export interface DecodedRecord {
  id: number;
  group: number;
  index: number;
  count: number;
  enqueuedAt: number;
  topic: string;
  offset: number;
  payloadOffset: number;
  payloadLength: number;
}

/**
 * Encodes the header and topic of one record. The CRC-32 covers the payload too, so the record
 * on disk is this buffer followed by `record.payload`.
 */
export function encodeRecordHeader(record: RecordInput): Buffer {
  const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES + record.topic.length);
  header.writeUInt32LE(RECORD_MAGIC, 0);
  header.writeUInt32LE(record.payload.length, 8);
  header.writeUInt16LE(record.topic.length, 12);
  header.writeUInt16LE(0, 14);
  writeU64(header, 16, record.id);
  writeU64(header, 24, record.group);
  header.writeUInt32LE(record.index, 32);
  header.writeUInt32LE(record.count, 36);
  header.writeDoubleLE(record.enqueuedAt, 40);
  record.topic.copy(header, RECORD_HEADER_BYTES);
  header.writeUInt32LE(crc32(record.payload, crc32(header.subarray(8))), 4);
  return header;
}

/** Decodes the record at `offset`, or returns null when it is cut short or fails its checks. */
export function readRecord(source: Buffer, offset: number): DecodedRecord | null {
  if (offset + RECORD_HEADER_BYTES > source.length || source.readUInt32LE(offset) !== RECORD_MAGIC) return null;
  const payloadLength = source.readUInt32LE(offset + 8);
  const topicLength = source.readUInt16LE(offset + 12);
  const payloadOffset = offset + RECORD_HEADER_BYTES + topicLength;
  const end = payloadOffset + payloadLength;
  if (end > source.length) return null;
  if (crc32(source.subarray(offset + 8, end)) !== source.readUInt32LE(offset + 4)) return null;
  const index = source.readUInt32LE(offset + 32);
  const count = source.readUInt32LE(offset + 36);
  if (index >= count) return null;
  return {
    id: readU64(source, offset + 16),
    group: readU64(source, offset + 24),
    index,
    count,
    enqueuedAt: source.readDoubleLE(offset + 40),
    topic: source.toString('utf8', offset + RECORD_HEADER_BYTES, payloadOffset),
    offset,
    payloadOffset,
    payloadLength,
  };
}

/** Returns the offset of the next valid record after `from`, or null when none follows. */
export function findNextRecord(source: Buffer, from: number): number | null {
  let at = source.indexOf(MAGIC_BYTES, from);
  while (at !== -1) {
    if (readRecord(source, at) !== null) return at;
    at = source.indexOf(MAGIC_BYTES, at + 1);
  }
  return null;
}

export function writeU64(target: Buffer, offset: number, value: number): void {
  target.writeUInt32LE(value % TWO_TO_32, offset);
  target.writeUInt32LE(Math.floor(value / TWO_TO_32), offset + 4);
}

export function readU64(source: Buffer, offset: number): number {
  return source.readUInt32LE(offset + 4) * TWO_TO_32 + source.readUInt32LE(offset);
}

