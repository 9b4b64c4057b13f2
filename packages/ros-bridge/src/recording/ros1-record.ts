/**
 * Record-level parsing of ROS 1 bag v2.0 files. A record is a little-endian uint32 header length,
 * header fields (each a uint32 length followed by `name=value`), a uint32 data length and the data.
 */

export const ROS1_BAG_MAGIC = '#ROSBAG V2.0\n';

/** Values of a record's `op` header field. */
export const Ros1Op = {
  MessageData: 0x02,
  BagHeader: 0x03,
  IndexData: 0x04,
  Chunk: 0x05,
  ChunkInfo: 0x06,
  Connection: 0x07,
} as const;

export type Ros1HeaderFields = Map<string, Uint8Array>;

/** A record whose header and data both lie inside the buffer. Offsets are buffer offsets. */
export type Ros1Record = Ros1RecordHeader;

/** A record's header and data length. Its `dataOffset` and `end` may lie past the buffer's end. */
export interface Ros1RecordHeader {
  op: number;
  fields: Ros1HeaderFields;
  offset: number;
  dataOffset: number;
  dataLength: number;
  end: number;
}

/**
 * Result of reading a record header. `truncated` means the buffer ends before the data length
 * field, and `invalid` means the bytes are not a record header at all.
 */
export type Ros1RecordHeaderRead =
  | { kind: 'header'; header: Ros1RecordHeader }
  | { kind: 'truncated' }
  | { kind: 'invalid'; reason: string };

/**
 * Result of reading a whole record. `truncated` means the buffer ends inside the record, and
 * `header` is set when only the data is cut.
 */
export type Ros1RecordRead =
  | { kind: 'record'; record: Ros1Record }
  | { kind: 'truncated'; header: Ros1RecordHeader | null }
  | { kind: 'invalid'; reason: string };

const textDecoder = new TextDecoder();

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses `name=value` header fields, or returns the reason why the bytes are not fields. */
export function parseHeaderFields(header: Uint8Array): Ros1HeaderFields | string {
  const fields: Ros1HeaderFields = new Map();
  const view = viewOf(header);
  let offset = 0;
  while (offset < header.length) {
    if (header.length - offset < 4) return `header field length at byte ${offset} is cut`;
    const fieldLength = view.getUint32(offset, true);
    offset += 4;
    if (fieldLength > header.length - offset) {
      return `header field at byte ${offset} claims ${fieldLength} bytes but only ${header.length - offset} remain`;
    }
    const field = header.subarray(offset, offset + fieldLength);
    const separator = field.indexOf(0x3d);
    if (separator <= 0) return `header field at byte ${offset} has no name=value separator`;
    fields.set(textDecoder.decode(field.subarray(0, separator)), field.subarray(separator + 1));
    offset += fieldLength;
  }
  return fields;
}

/** Reads the header and data length of the record that starts at `offset` of `buffer`. */
export function readRecordHeader(buffer: Uint8Array, offset: number): Ros1RecordHeaderRead {
  const view = viewOf(buffer);
  if (buffer.length - offset < 4) return { kind: 'truncated' };
  const headerLength = view.getUint32(offset, true);
  const headerStart = offset + 4;
  if (headerLength > buffer.length - headerStart) return { kind: 'truncated' };

  const fields = parseHeaderFields(buffer.subarray(headerStart, headerStart + headerLength));
  if (typeof fields === 'string') return { kind: 'invalid', reason: fields };
  const opField = fields.get('op');
  if (opField === undefined || opField.length !== 1) {
    return { kind: 'invalid', reason: 'record header has no one-byte op field' };
  }

  const dataLengthOffset = headerStart + headerLength;
  if (buffer.length - dataLengthOffset < 4) return { kind: 'truncated' };
  const dataLength = view.getUint32(dataLengthOffset, true);
  const dataOffset = dataLengthOffset + 4;
  return {
    kind: 'header',
    header: { op: opField[0]!, fields, offset, dataOffset, dataLength, end: dataOffset + dataLength },
  };
}

/** Reads the record that starts at `offset` of `buffer`, which may end inside it. */
export function readRecord(buffer: Uint8Array, offset: number): Ros1RecordRead {
  const read = readRecordHeader(buffer, offset);
  if (read.kind === 'truncated') return { kind: 'truncated', header: null };
  if (read.kind === 'invalid') return read;
  if (read.header.end > buffer.length) return { kind: 'truncated', header: read.header };
  return { kind: 'record', record: read.header };
}

/** Returns the named field, or throws naming the field and the record's op code. */
export function requireField(fields: Ros1HeaderFields, name: string, minLength = 0): Uint8Array {
  const value = fields.get(name);
  if (value === undefined || value.length < minLength) {
    const op = fields.get('op')?.[0];
    throw new Error(`record with op 0x${(op ?? 0).toString(16).padStart(2, '0')} has no valid '${name}' field`);
  }
  return value;
}

export function fieldUint32(fields: Ros1HeaderFields, name: string): number {
  return viewOf(requireField(fields, name, 4)).getUint32(0, true);
}

export function fieldUint64(fields: Ros1HeaderFields, name: string): number {
  const value = viewOf(requireField(fields, name, 8)).getBigUint64(0, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`field '${name}' value ${value} exceeds the largest safe file offset`);
  }
  return Number(value);
}

export function fieldString(fields: Ros1HeaderFields, name: string): string {
  return textDecoder.decode(requireField(fields, name));
}

/** Converts a ROS 1 `time` (uint32 sec, uint32 nsec, little-endian) to nanoseconds. */
export function fieldTimeNs(fields: Ros1HeaderFields, name: string): bigint {
  const view = viewOf(requireField(fields, name, 8));
  return timeToNs(view.getUint32(0, true), view.getUint32(4, true));
}

export function timeToNs(sec: number, nsec: number): bigint {
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

/** Connection fields that the reader uses, from a connection record's header and data. */
export interface Ros1Connection {
  conn: number;
  topic: string;
  type: string;
  md5sum: string;
  messageDefinition: string;
}

/** Parses a connection record (op 0x07) from its header fields and its data. */
export function parseConnectionRecord(fields: Ros1HeaderFields, data: Uint8Array): Ros1Connection {
  const dataFields = parseHeaderFields(data);
  if (typeof dataFields === 'string') throw new Error(`connection record data is invalid: ${dataFields}`);
  return {
    conn: fieldUint32(fields, 'conn'),
    topic: fieldString(fields, 'topic'),
    type: fieldString(dataFields, 'type'),
    md5sum: fieldString(dataFields, 'md5sum'),
    messageDefinition: fieldString(dataFields, 'message_definition'),
  };
}
