/**
 * A ROS 1 bag V2.0 writer for tests, which lays records out as ROS 1 `rosbag` does. The bag header
 * record is padded to 4096 bytes. Each chunk record is followed by one index data record per
 * connection in the chunk. The index section at the end has connection records and chunk info
 * records. Each connection record is also written inside the first chunk that uses it.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { md5, parse } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg-serialization';
import { encodeLz4Frame } from './lz4-frame.ts';

export interface Ros1BagConnectionSpec {
  conn: number;
  topic: string;
  /** ROS 1 type name, for example `std_msgs/String`. */
  type: string;
  /** Message definition text with dependencies after `MSG:` separator lines. */
  definition: string;
  callerid?: string;
}

export interface Ros1BagMessageSpec {
  conn: number;
  sec: number;
  nsec: number;
  data: Uint8Array;
}

/** Chunk compression: rosbag writes `none`, `bz2` or `lz4`. Other names are written uncompressed under that name. */
export type Ros1ChunkCompressionName = 'none' | 'bz2' | 'lz4' | (string & {});

export interface Ros1BagChunkSpec {
  compression: Ros1ChunkCompressionName;
  messages: Ros1BagMessageSpec[];
}

export interface Ros1BagSpec {
  connections: Ros1BagConnectionSpec[];
  chunks: Ros1BagChunkSpec[];
  /**
   * False writes the bag that a recorder leaves when it stops before closing: header index
   * position 0 and no index section. Defaults to true.
   */
  closed?: boolean;
}

/** File offsets of the records that a test may cut through. */
export interface Ros1BagLayout {
  size: number;
  /**
   * Each chunk record without its index data records: start, end, start of its data, and the
   * offset in the uncompressed data where each message record ends, in message order.
   */
  chunks: Array<{ start: number; end: number; dataStart: number; recordEnds: number[] }>;
  /** Offset of the index section, or 0 when the bag is not closed. */
  indexPosition: number;
}

const SEPARATOR = '='.repeat(80);
const BAG_HEADER_PADDED_BYTES = 4096;

/** Joins a type's definition and its dependencies the way rosbag stores `message_definition`. */
export function joinDefinitions(main: string, dependencies: Array<{ type: string; text: string }>): string {
  return [main, ...dependencies.map(({ type, text }) => `${SEPARATOR}\nMSG: ${type}\n${text}`)].join('\n');
}

/** Serializes `message` as ROS 1 bytes with the definition text of its type. */
export function serializeRos1Message(definition: string, message: unknown): Uint8Array {
  return new MessageWriter(parse(definition)).writeMessage(message);
}

/** Returns whether the `bzip2` program exists, which the bz2 chunks of test bags need. */
export function bzip2Available(): boolean {
  const result = spawnSync('bzip2', ['--help'], { stdio: 'ignore' });
  return result.error === undefined;
}

function compressBz2(data: Uint8Array): Uint8Array {
  const result = spawnSync('bzip2', ['-c', '-9'], { input: data, maxBuffer: 1 << 30 });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(`bzip2 failed: ${result.error?.message ?? result.stderr.toString()}`);
  }
  return new Uint8Array(result.stdout);
}

function compress(compression: Ros1ChunkCompressionName, data: Uint8Array): Uint8Array {
  if (compression === 'bz2') return compressBz2(data);
  if (compression === 'lz4') return encodeLz4Frame(data);
  return data;
}

const textEncoder = new TextEncoder();

function uint32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function uint64(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value), true);
  return bytes;
}

function time(sec: number, nsec: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, sec, true);
  view.setUint32(4, nsec, true);
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const output = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    output.set(part, offset);
    offset += part.length;
  }
  return output;
}

type FieldValue = string | Uint8Array;

/** Encodes `name=value` fields, each prefixed by its uint32 length. */
function encodeFields(fields: Array<[string, FieldValue]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, value] of fields) {
    const valueBytes = typeof value === 'string' ? textEncoder.encode(value) : value;
    const field = concat([textEncoder.encode(`${name}=`), valueBytes]);
    parts.push(uint32(field.length), field);
  }
  return concat(parts);
}

function encodeRecord(op: number, fields: Array<[string, FieldValue]>, data: Uint8Array): Uint8Array {
  const header = encodeFields([['op', Uint8Array.of(op)], ...fields]);
  return concat([uint32(header.length), header, uint32(data.length), data]);
}

function bagHeaderRecord(indexPosition: number, connectionCount: number, chunkCount: number): Uint8Array {
  const header = encodeFields([
    ['op', Uint8Array.of(0x03)],
    ['index_pos', uint64(indexPosition)],
    ['conn_count', uint32(connectionCount)],
    ['chunk_count', uint32(chunkCount)],
  ]);
  // rosbag pads the data with spaces so that header plus data fill 4096 bytes.
  const padding = new Uint8Array(BAG_HEADER_PADDED_BYTES - header.length).fill(0x20);
  return concat([uint32(header.length), header, uint32(padding.length), padding]);
}

function connectionRecord(connection: Ros1BagConnectionSpec): Uint8Array {
  const dataFields: Array<[string, FieldValue]> = [
    ['topic', connection.topic],
    ['type', connection.type],
    ['md5sum', md5(parse(connection.definition))],
    ['message_definition', connection.definition],
  ];
  if (connection.callerid !== undefined) dataFields.push(['callerid', connection.callerid]);
  return encodeRecord(
    0x07,
    [
      ['conn', uint32(connection.conn)],
      ['topic', connection.topic],
    ],
    encodeFields(dataFields),
  );
}

function compareTime(a: Ros1BagMessageSpec, b: Ros1BagMessageSpec): number {
  return a.sec - b.sec || a.nsec - b.nsec;
}

/** Builds the bytes of a bag and the offsets of its records. */
export function buildRos1Bag(spec: Ros1BagSpec): { bytes: Uint8Array; layout: Ros1BagLayout } {
  const closed = spec.closed ?? true;
  const connectionsById = new Map(spec.connections.map((connection) => [connection.conn, connection]));
  const written = new Set<number>();
  const body: Uint8Array[] = [];
  const chunkInfos: Uint8Array[] = [];
  const layout: Ros1BagLayout = { size: 0, chunks: [], indexPosition: 0 };
  let position = '#ROSBAG V2.0\n'.length + 8 + BAG_HEADER_PADDED_BYTES;

  for (const chunk of spec.chunks) {
    const records: Uint8Array[] = [];
    const index = new Map<number, Array<{ sec: number; nsec: number; offset: number }>>();
    const recordEnds: number[] = [];
    let offset = 0;
    for (const message of chunk.messages) {
      const connection = connectionsById.get(message.conn);
      if (connection !== undefined && !written.has(message.conn)) {
        const record = connectionRecord(connection);
        records.push(record);
        offset += record.length;
        written.add(message.conn);
      }
      const record = encodeRecord(
        0x02,
        [
          ['conn', uint32(message.conn)],
          ['time', time(message.sec, message.nsec)],
        ],
        message.data,
      );
      const entries = index.get(message.conn) ?? [];
      entries.push({ sec: message.sec, nsec: message.nsec, offset });
      index.set(message.conn, entries);
      records.push(record);
      offset += record.length;
      recordEnds.push(offset);
    }

    const uncompressed = concat(records);
    const chunkRecord = encodeRecord(
      0x05,
      [
        ['compression', chunk.compression],
        ['size', uint32(uncompressed.length)],
      ],
      compress(chunk.compression, uncompressed),
    );
    const headerLength = new DataView(chunkRecord.buffer, chunkRecord.byteOffset).getUint32(0, true);
    const dataStart = position + 4 + headerLength + 4;
    layout.chunks.push({ start: position, end: position + chunkRecord.length, dataStart, recordEnds });
    body.push(chunkRecord);
    const chunkPosition = position;
    position += chunkRecord.length;

    for (const [conn, entries] of index) {
      const data = concat(entries.map((entry) => concat([time(entry.sec, entry.nsec), uint32(entry.offset)])));
      const record = encodeRecord(
        0x04,
        [
          ['ver', uint32(1)],
          ['conn', uint32(conn)],
          ['count', uint32(entries.length)],
        ],
        data,
      );
      body.push(record);
      position += record.length;
    }

    const sorted = [...chunk.messages].sort(compareTime);
    const first = sorted[0] ?? { sec: 0, nsec: 0 };
    const last = sorted.at(-1) ?? { sec: 0, nsec: 0 };
    chunkInfos.push(
      encodeRecord(
        0x06,
        [
          ['ver', uint32(1)],
          ['chunk_pos', uint64(chunkPosition)],
          ['start_time', time(first.sec, first.nsec)],
          ['end_time', time(last.sec, last.nsec)],
          ['count', uint32(index.size)],
        ],
        concat([...index].map(([conn, entries]) => concat([uint32(conn), uint32(entries.length)]))),
      ),
    );
  }

  const parts: Uint8Array[] = [textEncoder.encode('#ROSBAG V2.0\n')];
  if (closed) {
    layout.indexPosition = position;
    parts.push(bagHeaderRecord(position, spec.connections.length, spec.chunks.length), ...body);
    parts.push(...spec.connections.map(connectionRecord), ...chunkInfos);
  } else {
    parts.push(bagHeaderRecord(0, 0, 0), ...body);
  }
  const bytes = concat(parts);
  layout.size = bytes.length;
  return { bytes, layout };
}

/** Writes a bag to `path` and returns the offsets of its records. */
export async function writeRos1Bag(path: string, spec: Ros1BagSpec): Promise<Ros1BagLayout> {
  const { bytes, layout } = buildRos1Bag(spec);
  await writeFile(path, bytes);
  return layout;
}
