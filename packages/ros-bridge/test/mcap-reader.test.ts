import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zstd from '@foxglove/wasm-zstd';
import { findSharedData } from '@fieldloop/contracts';
import { McapIndexedReader } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompressLz4Prefix } from '../src/recording/decompress-lz4-prefix.ts';
import { decompressZstdPrefix } from '../src/recording/decompress-zstd-prefix.ts';
import { openMcap } from '../src/recording/mcap-reader.ts';
import { RecordingError, type RawMessage, type ReadLoss, type RecordingReader } from '../src/recording/recording-reader.ts';
import { compressLz4Frame } from './support/lz4-compress.ts';
import {
  buildMessages,
  describeLayout,
  writeMcapFixture,
  type Fixture,
  type FixtureMessage,
  type FixtureOptions,
} from './support/mcap-fixture.ts';

let directory: string;
let fileCounter = 0;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'fieldloop-mcap-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function tempPath(name: string): string {
  fileCounter++;
  return join(directory, `${fileCounter}-${name}`);
}

interface ReadResult {
  reader: RecordingReader;
  messages: RawMessage[];
  losses: readonly ReadLoss[];
}

async function readAll(path: string): Promise<ReadResult> {
  const reader = await openMcap(path);
  const messages: RawMessage[] = [];
  try {
    for await (const message of reader.messages()) messages.push(message);
  } finally {
    await reader.close();
  }
  return { reader, messages, losses: reader.losses() };
}

async function fixture(name: string, options: FixtureOptions): Promise<Fixture> {
  return writeMcapFixture(tempPath(`${name}.mcap`), options);
}

async function writeBytes(name: string, bytes: Uint8Array): Promise<string> {
  const path = tempPath(name);
  await writeFile(path, bytes);
  return path;
}

/** Indexes of messages whose data differ from the expected bytes. */
function dataMismatches(actual: readonly RawMessage[], expected: readonly FixtureMessage[]): number[] {
  const mismatches: number[] = [];
  for (const [index, message] of actual.entries()) {
    const expectedData = expected[index]?.data;
    if (expectedData === undefined || Buffer.compare(message.data, expectedData) !== 0) mismatches.push(index);
  }
  return mismatches;
}

function expectMessages(actual: readonly RawMessage[], expected: readonly FixtureMessage[]): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.map((message) => message.channel.topic)).toEqual(expected.map((message) => message.topic));
  expect(actual.map((message) => message.logTime)).toEqual(expected.map((message) => message.logTime));
  expect(actual.map((message) => message.publishTime)).toEqual(expected.map((message) => message.publishTime));
  expect(dataMismatches(actual, expected)).toEqual([]);
}

function flipByte(bytes: Uint8Array, offset: number): void {
  bytes[offset] = bytes[offset]! ^ 0xff;
}

function isInLogTimeOrder(messages: readonly RawMessage[]): boolean {
  return messages.every((message, index) => index === 0 || messages[index - 1]!.logTime <= message.logTime);
}

function onlyLoss(losses: readonly ReadLoss[]): ReadLoss {
  expect(losses).toHaveLength(1);
  return losses[0]!;
}

const COMPRESSIONS = ['zstd', 'lz4', 'none'] as const;

describe('openMcap on complete files', () => {
  it.each(COMPRESSIONS)('reads %s chunks through the index', async (compression) => {
    const file = await fixture(`indexed-${compression}`, { compression, count: 3000, chunkSize: 128 * 1024, unordered: true });
    expect(describeLayout(file.bytes).chunks.length).toBeGreaterThan(3);
    const { messages, losses } = await readAll(file.path);
    expectMessages(messages, file.sorted);
    expect(losses).toEqual([]);
  });

  it.each(COMPRESSIONS)('reads %s chunks without a summary', async (compression) => {
    const file = await fixture(`stream-${compression}`, {
      compression,
      summary: false,
      count: 3000,
      chunkSize: 128 * 1024,
      unordered: true,
    });
    const { messages, losses } = await readAll(file.path);
    expectMessages(messages, file.sorted);
    expect(losses).toEqual([]);
  });

  it('reads unchunked file with summary', async () => {
    const file = await fixture('unchunked-summary', { chunked: false, count: 400 });
    const { messages, losses } = await readAll(file.path);
    expectMessages(messages, file.sorted);
    expect(losses).toEqual([]);
  });

  it('reads unchunked file without summary', async () => {
    const file = await fixture('unchunked-plain', { chunked: false, summary: false, count: 400 });
    const { messages, losses } = await readAll(file.path);
    expectMessages(messages, file.sorted);
    expect(losses).toEqual([]);
  });

  it('reads chunks without message indexes', async () => {
    const file = await fixture('no-message-index', { messageIndex: false, count: 1200, unordered: true });
    const { messages, losses } = await readAll(file.path);
    expectMessages(messages, file.sorted);
    expect(losses).toEqual([]);
  });

  it('yields log-time order across overlapping chunks', async () => {
    const file = await fixture('overlap', { count: 2000, chunkSize: 16 * 1024, unordered: true });
    const chunks = describeLayout(file.bytes).chunks;
    const overlapping = chunks.filter((chunk, index) => index > 0 && chunk.messageStartTime < chunks[index - 1]!.messageEndTime);
    expect(overlapping.length).toBeGreaterThan(0);
    const { messages } = await readAll(file.path);
    expect(isInLogTimeOrder(messages)).toBe(true);
  });

  it('builds channels from the summary', async () => {
    const file = await fixture('channels', { count: 400 });
    const reader = await openMcap(file.path);
    const channels = reader.channels();
    await reader.close();
    expect(channels.map((channel) => channel.topic)).toEqual(['/imu', '/odom', '/status']);
    expect(channels.map((channel) => channel.type)).toEqual(['sensor_msgs/msg/Imu', 'nav_msgs/msg/Odometry', '']);
    expect(channels.map((channel) => channel.encoding)).toEqual(['cdr', 'cdr', 'cdr']);
    expect(channels[0]!.definition).toEqual({
      encoding: 'ros2msg',
      text: 'std_msgs/Header header\ngeometry_msgs/Quaternion orientation\n',
    });
    expect(channels[2]!.definition).toBeNull();
    expect(channels.map((channel) => channel.declaredCount)).toEqual([200, 100, 100]);
  });

  it('learns channels from the first chunk without a summary', async () => {
    const file = await fixture('channels-in-chunk', { summary: false, count: 400 });
    const reader = await openMcap(file.path);
    const channels = reader.channels();
    await reader.close();
    expect(channels.map((channel) => channel.topic)).toEqual(['/imu', '/odom', '/status']);
    expect(channels.map((channel) => channel.declaredCount)).toEqual([null, null, null]);
  });

  it('keeps the stored message encoding', async () => {
    const file = await fixture('wrong-encoding', { count: 40, messageEncoding: 'wrong_format' });
    const { reader, messages } = await readAll(file.path);
    expect(reader.channels().map((channel) => channel.encoding)).toEqual(['wrong_format', 'wrong_format', 'wrong_format']);
    expect(messages).toHaveLength(40);
  });

  it('reports format, path and files', async () => {
    const file = await fixture('identity', { count: 10 });
    const reader = await openMcap(file.path);
    await reader.close();
    expect(reader.format).toBe('mcap');
    expect(reader.path).toBe(file.path);
    expect(reader.files).toEqual([file.path]);
  });
});

describe('openMcap on truncated files', () => {
  const options: FixtureOptions = { count: 3000, chunkSize: 256 * 1024 };

  async function cut(file: Fixture, length: number): Promise<ReadResult> {
    return readAll(await writeBytes(`cut-${length}.mcap`, file.bytes.subarray(0, length)));
  }

  it('cut inside the header record', async () => {
    const file = await fixture('cut-header', options);
    const { messages, losses } = await cut(file, 8 + 9 + 3);
    expect(messages).toEqual([]);
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBe(12);
    expect(loss.messages).toBeNull();
    expect(loss.startTime).toBeNull();
    expect(loss.reason).toContain('inside a Header record');
  });

  it('cut between chunks', async () => {
    const file = await fixture('cut-between', options);
    const [first, second] = describeLayout(file.bytes).chunks;
    const { messages, losses } = await cut(file, second!.offset);
    expectMessages(messages, file.sorted.slice(0, first!.entries.length));
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBe(0);
    expect(loss.messages).toBeNull();
    expect(loss.startTime).toBe(messages.at(-1)!.logTime);
    expect(loss.endTime).toBeNull();
  });

  it('cut inside a message index', async () => {
    const file = await fixture('cut-index', options);
    const [first] = describeLayout(file.bytes).chunks;
    const indexStart = first!.messageIndexOffsets[1]!;
    const { messages, losses } = await cut(file, indexStart + 5);
    expect(messages).toHaveLength(first!.entries.length);
    expect(onlyLoss(losses).bytes).toBe(5);
  });

  it('cut inside a chunk header', async () => {
    const file = await fixture('cut-chunk-header', options);
    const [first, second] = describeLayout(file.bytes).chunks;
    const { messages, losses } = await cut(file, second!.offset + 30);
    expect(messages).toHaveLength(first!.entries.length);
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBe(30);
    expect(loss.endTime).toBeNull();
  });

  it('cut inside an uncompressed chunk', async () => {
    const file = await fixture('cut-plain', { ...options, compression: 'none' });
    const [first, second] = describeLayout(file.bytes).chunks;
    const cutAt = second!.offset + Math.floor(second!.length * 0.6);
    // A message record is a 9-byte prefix, 22 bytes of fields and the data.
    const recordsStart = second!.offset + second!.recordsOffset;
    const secondMessages = file.sorted.slice(first!.entries.length, first!.entries.length + second!.entries.length);
    const recordEnds = [...second!.entries]
      .sort((a, b) => a.offset - b.offset)
      .map((entry, index) => recordsStart + entry.offset + 31 + secondMessages[index]!.data.length);
    const complete = recordEnds.filter((end) => end <= cutAt);

    const { messages, losses } = await cut(file, cutAt);
    expectMessages(messages, file.sorted.slice(0, first!.entries.length + complete.length));
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBe(cutAt - complete.at(-1)!);
    expect(loss.startTime).toBe(messages.at(-1)!.logTime);
    expect(loss.endTime).toBe(second!.messageEndTime);
    expect(loss.reason).toContain(`at byte ${cutAt.toLocaleString('en-US')} inside chunk 2`);
  });

  it.each(['zstd', 'lz4'] as const)('cut inside a %s chunk keeps whole blocks', async (compression) => {
    const file = await fixture(`cut-${compression}`, { ...options, compression });
    const [first, second] = describeLayout(file.bytes).chunks;
    const cutAt = second!.offset + Math.floor(second!.length * 0.8);
    const { messages, losses } = await cut(file, cutAt);
    expect(messages.length).toBeGreaterThan(first!.entries.length);
    expect(messages.length).toBeLessThan(first!.entries.length + second!.entries.length);
    expectMessages(messages, file.sorted.slice(0, messages.length));
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBeGreaterThan(0);
    expect(loss.bytes).toBeLessThan(cutAt - second!.offset);
    expect(loss.messages).toBeNull();
    expect(loss.startTime).toBe(messages.at(-1)!.logTime);
    expect(loss.endTime).toBe(second!.messageEndTime);

    // The lost bytes start right after the compressed block that completes the last salvaged
    // message: one byte less no longer decodes to its end, and the next message does not fit in
    // what the cut file still decodes to.
    const decode = compression === 'zstd' ? decompressZstdPrefix : decompressLz4Prefix;
    const recordsStart = second!.offset + second!.recordsOffset;
    const secondMessages = file.sorted.slice(first!.entries.length);
    const offsets = second!.entries.map((entry) => entry.offset).sort((a, b) => a - b);
    const recordEnd = (index: number): number => offsets[index]! + 31 + secondMessages[index]!.data.length;
    const salvaged = messages.length - first!.entries.length;
    const lostFrom = cutAt - loss.bytes;
    const decodedLength = (end: number): number => decode(file.bytes.subarray(recordsStart, end), 1 << 20).data.length;
    expect(decodedLength(lostFrom)).toBeGreaterThanOrEqual(recordEnd(salvaged - 1));
    expect(decodedLength(lostFrom - 1)).toBeLessThan(recordEnd(salvaged - 1));
    expect(decodedLength(cutAt)).toBeLessThan(recordEnd(salvaged));
  });

  it('cut inside the summary', async () => {
    const file = await fixture('cut-summary', options);
    const { dataEnd } = describeLayout(file.bytes);
    const dataEndLength = 9 + 4;
    const { messages, losses } = await cut(file, dataEnd + dataEndLength + 10);
    expectMessages(messages, file.sorted);
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBe(10);
    expect(loss.messages).toBe(0);
  });
});

describe('openMcap on corrupt files', () => {
  const options: FixtureOptions = { count: 2000, chunkSize: 64 * 1024 };

  /** Returns a copy of the file with chunk 2's CRC changed, and the messages outside chunk 2. */
  function corruptSecondChunkCrc(file: Fixture): { bytes: Uint8Array; remaining: FixtureMessage[]; lostCount: number } {
    const chunks = describeLayout(file.bytes).chunks;
    const second = chunks[1]!;
    const bytes = file.bytes.slice();
    flipByte(bytes, second.offset + 9 + 24);
    const lostTimes = new Set(second.entries.map((entry) => entry.logTime));
    const remaining = file.sorted.filter((message) => !lostTimes.has(message.logTime));
    return { bytes, remaining, lostCount: second.entries.length };
  }

  it.each([true, false])('skips a chunk with a CRC mismatch (summary %s)', async (summary) => {
    const file = await fixture(`crc-${summary}`, { ...options, summary });
    const second = describeLayout(file.bytes).chunks[1]!;
    const { bytes, remaining, lostCount } = corruptSecondChunkCrc(file);
    const { messages, losses } = await readAll(await writeBytes(`crc-${summary}-bad.mcap`, bytes));
    expectMessages(messages, remaining);
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBe(second.length);
    expect(loss.messages).toBe(lostCount);
    expect(loss.startTime).toBe(second.messageStartTime);
    expect(loss.endTime).toBe(second.messageEndTime);
    expect(loss.reason).toContain('CRC-32 mismatch');
  });

  it('resumes after a record with an invalid opcode', async () => {
    const file = await fixture('bad-opcode', { ...options, summary: false });
    const [, second, third] = describeLayout(file.bytes).chunks;
    const bytes = file.bytes.slice();
    bytes[second!.offset] = 0x50;
    const lostTimes = new Set(second!.entries.map((entry) => entry.logTime));
    const { messages, losses } = await readAll(await writeBytes('bad-opcode-bad.mcap', bytes));
    expectMessages(messages, file.sorted.filter((message) => !lostTimes.has(message.logTime)));
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBe(third!.offset - second!.offset);
    expect(loss.messages).toBeNull();
  });

  it('reports a summary with a bad CRC', async () => {
    const file = await fixture('bad-summary', options);
    const { dataEnd } = describeLayout(file.bytes);
    const bytes = file.bytes.slice();
    flipByte(bytes, dataEnd + 13 + 20);
    const { messages, losses } = await readAll(await writeBytes('bad-summary-bad.mcap', bytes));
    expectMessages(messages, file.sorted);
    const loss = onlyLoss(losses);
    expect(loss.messages).toBe(0);
    expect(loss.reason).toContain('summary');
  });
});

describe('openMcap on bad input', () => {
  it('rejects a file that is not MCAP', async () => {
    const path = await writeBytes('notes.mcap', new TextEncoder().encode('these are plain text notes, not a recording\n'));
    const error = await openMcap(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as RecordingError).message).toContain(path);
    expect((error as RecordingError).path).toBe(path);
  });

  it('rejects an empty file', async () => {
    const path = await writeBytes('empty.mcap', new Uint8Array(0));
    await expect(openMcap(path)).rejects.toThrow(path);
  });

  it('rejects a file cut inside the magic', async () => {
    const path = await writeBytes('magic.mcap', new Uint8Array([0x89, 0x4d, 0x43, 0x41]));
    await expect(openMcap(path)).rejects.toBeInstanceOf(RecordingError);
  });

  it('rejects a missing file', async () => {
    const path = join(directory, 'missing.mcap');
    await expect(openMcap(path)).rejects.toThrow(path);
  });

  it('rejects reading after close', async () => {
    const file = await fixture('closed', { count: 10 });
    const reader = await openMcap(file.path);
    await reader.close();
    const iterator = reader.messages()[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toBeInstanceOf(RecordingError);
  });
});

describe('prefix decoders', () => {
  const input = buildMessages(600, false).reduce<Uint8Array>((all, message) => {
    const joined = new Uint8Array(all.length + message.data.length);
    joined.set(all);
    joined.set(message.data, all.length);
    return joined;
  }, new Uint8Array(0));

  it('lz4 test frames decode with wasm-lz4', async () => {
    const frame = compressLz4Frame(input);
    const handlers = await loadDecompressHandlers();
    expect(frame.length).toBeLessThan(input.length);
    expect(Buffer.compare(handlers.lz4!(frame, BigInt(input.length)), input)).toBe(0);
  });

  it('lz4 prefix decodes a whole frame', () => {
    const decoded = decompressLz4Prefix(compressLz4Frame(input), input.length);
    expect(Buffer.compare(decoded.data, input)).toBe(0);
  });

  it('lz4 prefix of a cut frame', () => {
    const frame = compressLz4Frame(input);
    const cutAt = Math.floor(frame.length * 0.7);
    const decoded = decompressLz4Prefix(frame.subarray(0, cutAt), input.length);
    expect(decoded.data.length).toBeGreaterThan(0);
    expect(Buffer.compare(decoded.data, input.subarray(0, decoded.data.length))).toBe(0);
    expect(decoded.steps!.at(-1)!.inputEnd).toBeLessThanOrEqual(cutAt);
  });

  it('zstd prefix of a cut frame', async () => {
    await zstd.isLoaded;
    const frame = new Uint8Array(zstd.compress(input, 3));
    const cutAt = Math.floor(frame.length * 0.7);
    const decoded = decompressZstdPrefix(frame.subarray(0, cutAt), input.length);
    expect(decoded.data.length).toBeGreaterThan(0);
    expect(Buffer.compare(decoded.data, input.subarray(0, decoded.data.length))).toBe(0);
    expect(decoded.steps!.at(-1)!.inputEnd).toBeLessThanOrEqual(cutAt);
  });

  it('zstd prefix decodes a whole frame', async () => {
    await zstd.isLoaded;
    const decoded = decompressZstdPrefix(new Uint8Array(zstd.compress(input, 3)), input.length);
    expect(Buffer.compare(decoded.data, input)).toBe(0);
  });
});

const data = findSharedData();

describe.skipIf(!data)('openMcap on shared/data (skipped: shared/data not found beside the repository)', () => {
  const bags = (path: string): string => join(data as string, 'bags', path);

  function countByTopic(messages: readonly RawMessage[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const message of messages) counts[message.channel.topic] = (counts[message.channel.topic] ?? 0) + 1;
    return counts;
  }

  it('husky_test1 by topic', async () => {
    const { reader, messages, losses } = await readAll(bags('husky_test1/husky_test1.mcap'));
    expect(countByTopic(messages)).toEqual({ '/imu/data': 11865, '/husky_velocity_controller/odom': 3952, '/fix': 989 });
    expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([11865, 3952, 989]);
    expect(isInLogTimeOrder(messages)).toBe(true);
    expect(messages[0]!.logTime).toBe(1432235498025043042n);
    expect(messages.at(-1)!.logTime).toBe(1432235893332159182n);
    expect(losses).toEqual([]);
  });

  it('truncated husky_test1 with salvage', async () => {
    const { messages, losses } = await readAll(bags('truncated/husky_test1_truncated.mcap'));
    const lastCompleteChunkTime = 1432235723483473334n;
    const fromCompleteChunks = messages.filter((message) => message.logTime <= lastCompleteChunkTime);
    expect(countByTopic(fromCompleteChunks)).toEqual({ '/imu/data': 6768, '/husky_velocity_controller/odom': 2253, '/fix': 564 });
    expect(messages).toHaveLength(10184);
    expect(messages[0]!.logTime).toBe(1432235498025043042n);
    expect(messages.at(-1)!.logTime).toBe(1432235737576619461n);
    expect(isInLogTimeOrder(messages)).toBe(true);

    // Chunk 5 is the cut chunk, and the complete file's chunk index gives its end time.
    const complete = await open(bags('husky_test1/husky_test1.mcap'));
    const size = (await complete.stat()).size;
    const summary = await McapIndexedReader.Initialize({
      readable: {
        size: async () => BigInt(size),
        read: async (offset, length) => {
          const buffer = new Uint8Array(Number(length));
          await complete.read(buffer, 0, buffer.length, Number(offset));
          return buffer;
        },
      },
    });
    await complete.close();
    const cutChunk = summary.chunkIndexes[4]!;
    const loss = onlyLoss(losses);
    expect(loss.bytes).toBeGreaterThan(0);
    expect(loss.bytes).toBeLessThan(922_060 - Number(cutChunk.chunkStartOffset));
    expect(loss.messages).toBeNull();
    expect(loss.startTime).toBe(1432235737576619461n);
    expect(loss.endTime).toBe(cutChunk.messageEndTime);
    expect(loss.reason).toContain('ends at byte 922,060 inside chunk 5');
  });

  it('rc_night_a by topic', async () => {
    const { messages, losses } = await readAll(bags('rc_night_a/rc_night_a.mcap'));
    expect(countByTopic(messages)).toEqual({
      '/camera/front/image_raw/compressed': 108,
      '/rc/steering_servo': 108,
      '/rc/status': 11,
    });
    expect(messages[0]!.logTime).toBe(1478919599985415000n);
    expect(messages[0]!.channel.topic).toBe('/rc/steering_servo');
    expect(losses).toEqual([]);
  });

  it('typecoverage has 94 topics', async () => {
    const { messages, losses } = await readAll(bags('typecoverage/test_bag_mcap/test_bag_mcap.mcap'));
    const counts = Object.values(countByTopic(messages));
    expect(counts).toHaveLength(94);
    expect(counts.every((count) => count === 2)).toBe(true);
    expect(losses).toEqual([]);
  });

  it('rosbag2 talker fixture', async () => {
    const { reader, messages, losses } = await readAll(bags('rosbag2_fixtures/rosbag2_py/test/resources/mcap/talker/talker.mcap'));
    expect(countByTopic(messages)).toEqual({ '/topic': 10, '/rosout': 10 });
    expect(reader.channels().find((channel) => channel.topic === '/parameter_events')?.declaredCount).toBe(0);
    expect(losses).toEqual([]);
  });

  it('rosbag2 cdr_test fixture', async () => {
    const { messages, losses } = await readAll(bags('rosbag2_fixtures/rosbag2_tests/resources/mcap/cdr_test/cdr_test_0.mcap'));
    expect(countByTopic(messages)).toEqual({ '/test_topic': 3, '/array_topic': 4 });
    expect(losses).toEqual([]);
  });

  it('rosbag2 wrong_rmw_test keeps its encoding', async () => {
    const { reader, messages } = await readAll(bags('rosbag2_fixtures/rosbag2_tests/resources/mcap/wrong_rmw_test/wrong_rmw_test_0.mcap'));
    expect(reader.channels().map((channel) => channel.encoding)).toEqual(['wrong_format', 'wrong_format']);
    expect(messages).toHaveLength(7);
  });

  it.each([
    [0, 1324],
    [1, 1324],
    [2, 529],
  ])('reindex multiple_files_%i', async (index, count) => {
    const { messages, losses } = await readAll(
      bags(`rosbag2_fixtures/rosbag2_py/test/resources/mcap/reindex_test_bags/multiple_files/multiple_files_${index}.mcap`),
    );
    expect(countByTopic(messages)).toEqual({ '/chatter': count });
    expect(losses).toEqual([]);
  });
});
