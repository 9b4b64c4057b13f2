import { writeFile } from 'node:fs/promises';
import * as zstd from '@foxglove/wasm-zstd';
import { McapWriter, type IWritable } from '@mcap/core';
import { compressLz4Frame } from './lz4-compress.ts';

// Writes MCAP test files with @mcap/core's McapWriter and describes their record layout.

export type FixtureCompression = 'zstd' | 'lz4' | 'none';

export interface FixtureTopic {
  topic: string;
  /** Schema name, or null for a channel with schema id 0. */
  type: string | null;
  schemaText: string;
}

export const FIXTURE_TOPICS: readonly FixtureTopic[] = [
  { topic: '/imu', type: 'sensor_msgs/msg/Imu', schemaText: 'std_msgs/Header header\ngeometry_msgs/Quaternion orientation\n' },
  { topic: '/odom', type: 'nav_msgs/msg/Odometry', schemaText: 'std_msgs/Header header\nstring child_frame_id\n' },
  { topic: '/status', type: null, schemaText: '' },
];

export interface FixtureMessage {
  topic: string;
  logTime: bigint;
  publishTime: bigint;
  data: Uint8Array;
}

export interface FixtureOptions {
  compression?: FixtureCompression;
  chunked?: boolean;
  /** Statistics, chunk indexes, repeated schemas and channels, summary offsets. */
  summary?: boolean;
  messageIndex?: boolean;
  /** Uncompressed bytes after which the writer closes a chunk. */
  chunkSize?: number;
  count?: number;
  /** Adds up to ±25 ms of jitter to log times, so messages are out of order within and across chunks. */
  unordered?: boolean;
  /** Message encoding for every channel; `cdr` unless given. */
  messageEncoding?: string;
}

export interface Fixture {
  path: string;
  bytes: Uint8Array;
  /** Messages in the order they were written. */
  written: FixtureMessage[];
  /** Messages in log-time order (log times are unique). */
  sorted: FixtureMessage[];
}

export const FIXTURE_START_TIME = 1_700_000_000_000_000_000n;
const MESSAGE_SPACING = 10_000_000n;

class MemoryWritable implements IWritable {
  readonly #parts: Uint8Array[] = [];
  #position = 0n;

  async write(buffer: Uint8Array): Promise<void> {
    this.#parts.push(buffer.slice());
    this.#position += BigInt(buffer.byteLength);
  }

  position(): bigint {
    return this.#position;
  }

  bytes(): Uint8Array {
    return concat(this.#parts);
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const output = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let position = 0;
  for (const part of parts) {
    output.set(part, position);
    position += part.length;
  }
  return output;
}

/** mulberry32, a small seeded generator, so every fixture is the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PAYLOAD_SIZES: Record<string, number> = { '/imu': 300, '/odom': 700, '/status': 40 };

/** Builds `count` messages: CDR encapsulation header, index, then text with random bytes mixed in. */
export function buildMessages(count: number, unordered: boolean): FixtureMessage[] {
  const next = random(20240607);
  const messages: FixtureMessage[] = [];
  for (let index = 0; index < count; index++) {
    const topic = FIXTURE_TOPICS[[0, 0, 1, 2][index % 4]!]!.topic;
    const jitterMicroseconds = unordered ? BigInt(Math.floor(next() * 50_001) - 25_000) : 0n;
    // Adding the index in nanoseconds keeps log times unique despite the jitter.
    const logTime = FIXTURE_START_TIME + BigInt(index) * MESSAGE_SPACING + jitterMicroseconds * 1000n + BigInt(index);
    const data = new Uint8Array(8 + PAYLOAD_SIZES[topic]!);
    data.set([0, 1, 0, 0]);
    new DataView(data.buffer).setUint32(4, index, true);
    const text = new TextEncoder().encode(`${topic} message ${index} `.repeat(40));
    data.set(text.subarray(0, data.length - 8), 8);
    for (let position = 8; position < data.length; position += 8) data[position] = Math.floor(next() * 256);
    messages.push({ topic, logTime, publishTime: logTime - 500n, data });
  }
  return messages;
}

function compressor(compression: FixtureCompression): McapWriterCompress | undefined {
  if (compression === 'zstd') {
    return (chunk) => ({ compression: 'zstd', compressedData: new Uint8Array(zstd.compress(chunk, 3)) });
  }
  if (compression === 'lz4') return (chunk) => ({ compression: 'lz4', compressedData: compressLz4Frame(chunk) });
  return undefined;
}

type McapWriterCompress = (chunk: Uint8Array) => { compression: string; compressedData: Uint8Array };

/** Writes an MCAP file at `path` and returns its bytes and messages. */
export async function writeMcapFixture(path: string, options: FixtureOptions = {}): Promise<Fixture> {
  const { compression = 'zstd', chunked = true, summary = true, messageIndex = true } = options;
  await zstd.isLoaded;
  const writable = new MemoryWritable();
  const writer = new McapWriter({
    writable,
    useChunks: chunked,
    chunkSize: options.chunkSize ?? 64 * 1024,
    compressChunk: compressor(compression),
    useMessageIndex: messageIndex,
    useStatistics: summary,
    useSummaryOffsets: summary,
    useChunkIndex: summary,
    repeatSchemas: summary,
    repeatChannels: summary,
    useMetadataIndex: summary,
    useAttachmentIndex: summary,
  });
  await writer.start({ profile: 'ros2', library: 'fieldloop test fixture' });

  const channelIds = new Map<string, number>();
  for (const topic of FIXTURE_TOPICS) {
    const schemaId =
      topic.type === null
        ? 0
        : await writer.registerSchema({ name: topic.type, encoding: 'ros2msg', data: new TextEncoder().encode(topic.schemaText) });
    const channelId = await writer.registerChannel({
      topic: topic.topic,
      schemaId,
      messageEncoding: options.messageEncoding ?? 'cdr',
      metadata: new Map(),
    });
    channelIds.set(topic.topic, channelId);
  }

  const written = buildMessages(options.count ?? 600, options.unordered ?? false);
  for (const [sequence, message] of written.entries()) {
    await writer.addMessage({
      channelId: channelIds.get(message.topic)!,
      sequence,
      logTime: message.logTime,
      publishTime: message.publishTime,
      data: message.data,
    });
  }
  await writer.end();

  const bytes = writable.bytes();
  await writeFile(path, bytes);
  const sorted = [...written].sort(compareLogTimes);
  return { path, bytes, written, sorted };
}

function compareLogTimes(a: FixtureMessage, b: FixtureMessage): number {
  if (a.logTime < b.logTime) return -1;
  if (a.logTime > b.logTime) return 1;
  return 0;
}

export interface ChunkLayout {
  /** 1-based position among the file's chunks. */
  number: number;
  offset: number;
  /** Length of the Chunk record, prefix included. */
  length: number;
  messageStartTime: bigint;
  messageEndTime: bigint;
  /** Offset of the stored records from the start of the record. */
  recordsOffset: number;
  /** File offset where the Message Index records after the chunk end. */
  messageIndexEnd: number;
  /** Start offsets of those Message Index records. */
  messageIndexOffsets: number[];
  /** Log time and offset in the uncompressed records of every message, from the message indexes. */
  entries: { logTime: bigint; offset: number }[];
}

export interface FileLayout {
  chunks: ChunkLayout[];
  /** Offset of the Data End record. */
  dataEnd: number;
}

/** Lists the chunks and the Data End record of a complete MCAP file by walking its records. */
export function describeLayout(bytes: Uint8Array): FileLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: ChunkLayout[] = [];
  let offset = 8;
  for (;;) {
    const opcode = bytes[offset]!;
    const length = 9 + Number(view.getBigUint64(offset + 1, true));
    if (opcode === 0x0f) return { chunks, dataEnd: offset };
    if (opcode === 0x06) {
      const compressionLength = view.getUint32(offset + 9 + 28, true);
      chunks.push({
        number: chunks.length + 1,
        offset,
        length,
        messageStartTime: view.getBigUint64(offset + 9, true),
        messageEndTime: view.getBigUint64(offset + 17, true),
        recordsOffset: 9 + 32 + compressionLength + 8,
        messageIndexEnd: offset + length,
        messageIndexOffsets: [],
        entries: [],
      });
    } else if (opcode === 0x07) {
      const chunk = chunks.at(-1)!;
      chunk.messageIndexOffsets.push(offset);
      chunk.messageIndexEnd = offset + length;
      const entriesLength = view.getUint32(offset + 11, true);
      for (let entry = offset + 15; entry < offset + 15 + entriesLength; entry += 16) {
        chunk.entries.push({ logTime: view.getBigUint64(entry, true), offset: Number(view.getBigUint64(entry + 8, true)) });
      }
    }
    offset += length;
    if (offset >= bytes.length) throw new Error('MCAP test file has no Data End record');
  }
}
