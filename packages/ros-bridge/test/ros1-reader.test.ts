import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg-serialization';
import { findSharedData } from '@fieldloop/contracts';
import { RecordingError, type RawMessage, type RecordingReader } from '../src/recording/recording-reader.ts';
import { openRos1Bag } from '../src/recording/ros1-reader.ts';
import {
  bzip2Available,
  joinDefinitions,
  serializeRos1Message,
  writeRos1Bag,
  type Ros1BagChunkSpec,
  type Ros1BagConnectionSpec,
  type Ros1BagMessageSpec,
  type Ros1BagSpec,
  type Ros1ChunkCompressionName,
} from './support/ros1-bag-writer.ts';

const STRING_DEFINITION = 'string data\n';
const POINT_STAMPED_DEFINITION = joinDefinitions('Header header\ngeometry_msgs/Point point\n', [
  { type: 'std_msgs/Header', text: 'uint32 seq\ntime stamp\nstring frame_id\n' },
  { type: 'geometry_msgs/Point', text: 'float64 x\nfloat64 y\nfloat64 z\n' },
]);

// Two publishers on /chatter give two connections with one topic and type.
const CONNECTIONS: Ros1BagConnectionSpec[] = [
  { conn: 0, topic: '/chatter', type: 'std_msgs/String', definition: STRING_DEFINITION, callerid: '/talker_a' },
  { conn: 1, topic: '/point', type: 'geometry_msgs/PointStamped', definition: POINT_STAMPED_DEFINITION },
  { conn: 2, topic: '/chatter', type: 'std_msgs/String', definition: STRING_DEFINITION, callerid: '/talker_b' },
];
const TOPIC_OF_CONNECTION = new Map(CONNECTIONS.map((connection) => [connection.conn, connection.topic]));
const BASE_SEC = 1_700_000_000;

function chatter(conn: number, sec: number, nsec: number, text: string): Ros1BagMessageSpec {
  return { conn, sec, nsec, data: serializeRos1Message(STRING_DEFINITION, { data: text }) };
}

function point(sec: number, nsec: number, seq: number): Ros1BagMessageSpec {
  const message = {
    header: { seq, stamp: { sec, nsec }, frame_id: 'map' },
    point: { x: seq, y: seq * 0.5, z: -seq },
  };
  return { conn: 1, sec, nsec, data: serializeRos1Message(POINT_STAMPED_DEFINITION, message) };
}

/** Builds `count` chunks of 10 messages each, 10 ms apart, on all three connections. */
function makeChunks(compressions: Ros1ChunkCompressionName[]): Ros1BagChunkSpec[] {
  let step = 0;
  return compressions.map((compression) => {
    const messages: Ros1BagMessageSpec[] = [];
    for (let i = 0; i < 10; i += 1) {
      const sec = BASE_SEC + Math.floor(step / 100);
      const nsec = (step % 100) * 10_000_000;
      if (i % 3 === 0) messages.push(point(sec, nsec, step));
      else messages.push(chatter(i % 3 === 1 ? 0 : 2, sec, nsec, `hello ${step}`));
      step += 1;
    }
    return { compression, messages };
  });
}

function toNs(message: Ros1BagMessageSpec): bigint {
  return BigInt(message.sec) * 1_000_000_000n + BigInt(message.nsec);
}

/** The messages of a spec in log-time order, as the reader must return them. */
function expectedMessages(chunks: Ros1BagChunkSpec[]): Ros1BagMessageSpec[] {
  return chunks.flatMap((chunk) => chunk.messages).sort((a, b) => (toNs(a) < toNs(b) ? -1 : toNs(a) > toNs(b) ? 1 : 0));
}

async function readAll(reader: RecordingReader): Promise<RawMessage[]> {
  const messages: RawMessage[] = [];
  for await (const message of reader.messages()) messages.push(message);
  return messages;
}

function expectSameMessages(actual: RawMessage[], expected: Ros1BagMessageSpec[]): void {
  const expectedTopics = expected.map((message) => TOPIC_OF_CONNECTION.get(message.conn));
  expect(actual.map((message) => message.channel.topic)).toEqual(expectedTopics);
  expect(actual.map((message) => message.logTime)).toEqual(expected.map(toNs));
  expect(actual.map((message) => message.publishTime)).toEqual(expected.map(toNs));
  expect(actual.map((message) => Buffer.from(message.data).toString('hex'))).toEqual(
    expected.map((message) => Buffer.from(message.data).toString('hex')),
  );
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fieldloop-ros1-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeBag(name: string, spec: Ros1BagSpec) {
  const path = join(dir, name);
  const layout = await writeRos1Bag(path, spec);
  return { path, layout };
}

describe('openRos1Bag on bags built here', () => {
  const compressionCases: Array<{ name: string; compressions: Ros1ChunkCompressionName[]; skip: boolean }> = [
    { name: 'uncompressed', compressions: ['none', 'none', 'none'], skip: false },
    { name: 'lz4', compressions: ['lz4', 'lz4', 'lz4'], skip: false },
    { name: 'bz2', compressions: ['bz2', 'bz2', 'bz2'], skip: !bzip2Available() },
    { name: 'mixed', compressions: ['none', 'lz4', 'bz2'], skip: !bzip2Available() },
  ];

  for (const { name, compressions, skip } of compressionCases) {
    // The bz2 cases compress with the bzip2 program because no bz2 compressor package is installed.
    it.skipIf(skip)(`reads ${name} chunks${skip ? ' (skipped: bzip2 program not found)' : ''}`, async () => {
      const chunks = makeChunks(compressions);
      const { path } = await writeBag(`${name}.bag`, { connections: CONNECTIONS, chunks });
      const reader = await openRos1Bag(path);
      try {
        expect(reader.format).toBe('ros1-bag');
        expect(reader.files).toEqual([path]);
        expectSameMessages(await readAll(reader), expectedMessages(chunks));
        expect(reader.losses()).toEqual([]);
      } finally {
        await reader.close();
      }
    });
  }

  it('lists one channel per topic and type', async () => {
    const chunks = makeChunks(['none', 'lz4']);
    const { path } = await writeBag('channels.bag', { connections: CONNECTIONS, chunks });
    const reader = await openRos1Bag(path);
    try {
      const channels = reader.channels();
      expect(channels.map((channel) => channel.topic)).toEqual(['/chatter', '/point']);
      expect(channels.map((channel) => channel.type)).toEqual(['std_msgs/String', 'geometry_msgs/PointStamped']);
      expect(channels.map((channel) => channel.encoding)).toEqual(['ros1', 'ros1']);
      expect(channels[1]?.definition).toEqual({ encoding: 'ros1msg', text: POINT_STAMPED_DEFINITION });
      const all = chunks.flatMap((chunk) => chunk.messages);
      const chatterCount = all.filter((message) => message.conn !== 1).length;
      expect(channels.map((channel) => channel.declaredCount)).toEqual([chatterCount, all.length - chatterCount]);
      expect(new Set(channels.map((channel) => channel.id)).size).toBe(2);
    } finally {
      await reader.close();
    }
  });

  it('merges connections of one topic', async () => {
    const chunks = makeChunks(['none']);
    const { path } = await writeBag('merge.bag', { connections: CONNECTIONS, chunks });
    const reader = await openRos1Bag(path);
    try {
      const chatterChannels = reader.channels().filter((channel) => channel.topic === '/chatter');
      expect(chatterChannels).toHaveLength(1);
      const chatterChannel = chatterChannels[0];
      const messages = (await readAll(reader)).filter((message) => message.channel.topic === '/chatter');
      const chatterSpecs = chunks[0]!.messages.filter((message) => message.conn !== 1);
      expect(new Set(chatterSpecs.map((message) => message.conn))).toEqual(new Set([0, 2]));
      expect(messages).toHaveLength(chatterSpecs.length);
      expect(messages.every((message) => message.channel === chatterChannel)).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('orders overlapping chunks by log time', async () => {
    const chunks: Ros1BagChunkSpec[] = [
      {
        compression: 'lz4',
        messages: [chatter(0, BASE_SEC, 0, 'a'), chatter(0, BASE_SEC, 40, 'c'), point(BASE_SEC, 60, 1)],
      },
      {
        compression: 'none',
        messages: [chatter(2, BASE_SEC, 20, 'b'), point(BASE_SEC, 50, 2), chatter(2, BASE_SEC, 70, 'd')],
      },
    ];
    const { path } = await writeBag('overlap.bag', { connections: CONNECTIONS, chunks });
    const reader = await openRos1Bag(path);
    try {
      expectSameMessages(await readAll(reader), expectedMessages(chunks));
    } finally {
      await reader.close();
    }
  });

  it('returns bytes that decode', async () => {
    const { path } = await writeBag('decode.bag', { connections: CONNECTIONS, chunks: makeChunks(['lz4']) });
    const reader = await openRos1Bag(path);
    try {
      // The second point message of the chunk is step 3 of makeChunks.
      const second = (await readAll(reader)).filter((message) => message.channel.topic === '/point')[1];
      const definition = second?.channel.definition?.text ?? '';
      const decoded = new MessageReader(parse(definition)).readMessage<{
        header: { seq: number; stamp: { sec: number; nsec: number }; frame_id: string };
        point: { x: number; y: number; z: number };
      }>(second!.data);
      expect(decoded.header.seq).toBe(3);
      expect(decoded.header.frame_id).toBe('map');
      expect(decoded.header.stamp).toEqual({ sec: BASE_SEC, nsec: 30_000_000 });
      expect(decoded.point).toEqual({ x: 3, y: 1.5, z: -3 });
    } finally {
      await reader.close();
    }
  });

  it('reads bag without chunks', async () => {
    const { path } = await writeBag('empty.bag', { connections: CONNECTIONS, chunks: [] });
    const reader = await openRos1Bag(path);
    try {
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([0, 0]);
      expect(await readAll(reader)).toEqual([]);
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

describe('openRos1Bag on bad input', () => {
  it('rejects file that is not a bag', async () => {
    const path = join(dir, 'notes.txt');
    await writeFile(path, 'just some text, long enough to hold a magic number\n');
    const error = await openRos1Bag(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as RecordingError).path).toBe(path);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain('#ROSBAG V2.0');
  });

  it('rejects bag of format V1.2', async () => {
    const path = join(dir, 'old.bag');
    await writeFile(path, '#ROSBAG V1.2\n' + ' '.repeat(100));
    const error = await openRos1Bag(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as Error).message).toContain('V1.2');
  });

  it('rejects missing file', async () => {
    const path = join(dir, 'missing.bag');
    const error = await openRos1Bag(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as Error).message).toContain(path);
  });

  it('rejects unsupported chunk compression', async () => {
    const chunks = makeChunks(['none', 'zstd']);
    const { path } = await writeBag('zstd.bag', { connections: CONNECTIONS, chunks });
    const error = await openRos1Bag(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as Error).message).toContain("'zstd'");
    expect((error as Error).message).toContain(path);
  });

  it('rejects unsupported compression without index', async () => {
    const chunks = makeChunks(['none', 'zstd']);
    const { path } = await writeBag('zstd-unclosed.bag', { connections: CONNECTIONS, chunks, closed: false });
    const error = await openRos1Bag(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as Error).message).toContain("'zstd'");
  });
});

describe('openRos1Bag on bags without a usable index', () => {
  it('salvages bag cut in compressed chunk', async () => {
    const chunks = makeChunks(['lz4', 'lz4', 'lz4']);
    const { path, layout } = await writeBag('cut-lz4.bag', { connections: CONNECTIONS, chunks });
    const lastChunk = layout.chunks[2]!;
    const cutSize = Math.floor((lastChunk.start + lastChunk.end) / 2);
    await truncate(path, cutSize);

    const reader = await openRos1Bag(path);
    try {
      expectSameMessages(await readAll(reader), expectedMessages(chunks.slice(0, 2)));
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([null, null]);
      const losses = reader.losses();
      expect(losses).toHaveLength(1);
      expect(losses[0]?.file).toBe(path);
      expect(losses[0]?.bytes).toBe(cutSize - lastChunk.start);
      expect(losses[0]?.messages).toBeNull();
      expect(losses[0]?.reason).toContain(`byte ${lastChunk.start}`);
    } finally {
      await reader.close();
    }
  });

  it('salvages bag cut in uncompressed chunk', async () => {
    const chunks = makeChunks(['lz4', 'none', 'none']);
    const { path, layout } = await writeBag('cut-none.bag', { connections: CONNECTIONS, chunks });
    const lastChunk = layout.chunks[2]!;
    // Cut in the middle of the sixth message record of the last chunk.
    const recordEnds = lastChunk.recordEnds.map((end) => lastChunk.dataStart + end);
    const cutSize = recordEnds[5]! - 3;
    await truncate(path, cutSize);

    const reader = await openRos1Bag(path);
    try {
      const recoveredPart = { compression: 'none', messages: chunks[2]!.messages.slice(0, 5) };
      expectSameMessages(await readAll(reader), expectedMessages([chunks[0]!, chunks[1]!, recoveredPart]));
      const losses = reader.losses();
      expect(losses).toHaveLength(1);
      expect(losses[0]?.bytes).toBe(cutSize - recordEnds[4]!);
      expect(losses[0]?.messages).toBeNull();
      expect(losses[0]?.startTime).toBe(toNs(chunks[2]!.messages[5]!));
    } finally {
      await reader.close();
    }
  });

  it('salvages bag cut in index', async () => {
    const chunks = makeChunks(['none', 'lz4']);
    const { path, layout } = await writeBag('cut-index.bag', { connections: CONNECTIONS, chunks });
    const cutSize = layout.indexPosition + 20;
    await truncate(path, cutSize);

    const reader = await openRos1Bag(path);
    try {
      expectSameMessages(await readAll(reader), expectedMessages(chunks));
      const losses = reader.losses();
      expect(losses).toHaveLength(1);
      expect(losses[0]?.bytes).toBe(20);
      expect(losses[0]?.messages).toBe(0);
    } finally {
      await reader.close();
    }
  });

  it('reads unclosed bag without loss', async () => {
    const chunks = makeChunks(['lz4', 'none', 'lz4']);
    const { path } = await writeBag('unclosed.bag', { connections: CONNECTIONS, chunks, closed: false });
    const reader = await openRos1Bag(path);
    try {
      expect(reader.channels().map((channel) => channel.topic)).toEqual(['/chatter', '/point']);
      expectSameMessages(await readAll(reader), expectedMessages(chunks));
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('orders overlapping chunks without index', async () => {
    const chunks: Ros1BagChunkSpec[] = [
      {
        compression: 'lz4',
        messages: [chatter(0, BASE_SEC, 0, 'a'), chatter(0, BASE_SEC, 40, 'c'), point(BASE_SEC, 60, 1)],
      },
      {
        compression: 'none',
        messages: [chatter(2, BASE_SEC, 20, 'b'), point(BASE_SEC, 50, 2), chatter(2, BASE_SEC, 70, 'd')],
      },
      { compression: 'lz4', messages: [chatter(0, BASE_SEC, 90, 'f'), chatter(2, BASE_SEC, 80, 'e')] },
    ];
    const { path } = await writeBag('overlap-unclosed.bag', { connections: CONNECTIONS, chunks, closed: false });
    const reader = await openRos1Bag(path);
    try {
      expectSameMessages(await readAll(reader), expectedMessages(chunks));
    } finally {
      await reader.close();
    }
  });

  it('salvages bag cut in header', async () => {
    const { path } = await writeBag('cut-header.bag', { connections: CONNECTIONS, chunks: makeChunks(['none']) });
    await truncate(path, 100);
    const reader = await openRos1Bag(path);
    try {
      expect(await readAll(reader)).toEqual([]);
      expect(reader.losses()[0]?.bytes).toBe(100 - '#ROSBAG V2.0\n'.length);
    } finally {
      await reader.close();
    }
  });

  it('reports garbage after last chunk', async () => {
    const chunks = makeChunks(['lz4']);
    const { path, layout } = await writeBag('garbage.bag', { connections: CONNECTIONS, chunks, closed: false });
    const bytes = await readFile(path);
    const garbage = Buffer.alloc(64, 0xff);
    await writeFile(path, Buffer.concat([bytes, garbage]));

    const reader = await openRos1Bag(path);
    try {
      expectSameMessages(await readAll(reader), expectedMessages(chunks));
      expect(reader.losses()[0]?.bytes).toBe(garbage.length);
      expect(reader.losses()[0]?.reason).toContain(`byte ${layout.size}`);
    } finally {
      await reader.close();
    }
  });
});

const data = findSharedData();
const husky = data === null ? null : join(data, 'bags', 'husky_test1', 'ros1', 'test1.bag');
const huskyPresent = husky !== null && existsSync(husky);

const huskyTitle = 'openRos1Bag on husky test1.bag (skipped: shared/data/bags/husky_test1 not found)';

describe.skipIf(!huskyPresent)(huskyTitle, () => {
  let messages: RawMessage[] = [];
  let reader: RecordingReader;

  beforeAll(async () => {
    reader = await openRos1Bag(husky!);
    messages = await readAll(reader);
  });

  afterAll(async () => {
    await reader.close();
  });

  it('lists counts and types', () => {
    const channels = Object.fromEntries(reader.channels().map((channel) => [channel.topic, channel]));
    expect(channels['/imu/data']?.type).toBe('sensor_msgs/Imu');
    expect(channels['/husky_velocity_controller/odom']?.type).toBe('nav_msgs/Odometry');
    expect(channels['/fix']?.type).toBe('sensor_msgs/NavSatFix');
    expect(channels['/imu/data']?.declaredCount).toBe(11_865);
    expect(channels['/husky_velocity_controller/odom']?.declaredCount).toBe(3_952);
    expect(channels['/fix']?.declaredCount).toBe(989);
  });

  it('reads every message in order', () => {
    const count = (topic: string) => messages.filter((message) => message.channel.topic === topic).length;
    expect(messages).toHaveLength(16_806);
    expect(count('/imu/data')).toBe(11_865);
    expect(count('/husky_velocity_controller/odom')).toBe(3_952);
    expect(count('/fix')).toBe(989);
    expect(messages[0]?.logTime).toBe(1432235498025043042n);
    expect(messages.at(-1)?.logTime).toBe(1432235893332159182n);
    expect(messages.every((message, i) => i === 0 || messages[i - 1]!.logTime <= message.logTime)).toBe(true);
    expect(reader.losses()).toEqual([]);
  });

  it('decodes first fix', () => {
    const fix = messages.find((message) => message.channel.topic === '/fix')!;
    const decoded = new MessageReader(parse(fix.channel.definition!.text)).readMessage<{
      header: { frame_id: string };
      latitude: number;
      longitude: number;
    }>(fix.data);
    expect(decoded.header.frame_id).toBe('/gps');
    expect(decoded.latitude).toBeCloseTo(42.3758, 3);
    expect(decoded.longitude).toBeCloseTo(-71.1474, 3);
  });
});
