import { mkdir, writeFile } from 'node:fs/promises';
import { compareBigInt } from '@fieldloop/contracts';
import { join } from 'node:path';
import { parse } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import * as zstd from '@foxglove/wasm-zstd';
import { McapWriter, type IWritable } from '@mcap/core';
import sharp from 'sharp';
import { writeMetadataYaml, writeRosbag2Db3, type MessageSpec, type TopicSpec } from './rosbag2-bag-writer.ts';

// Writes a small RC-car style drive: PNG frames on a CompressedImage topic every 100 ms, a
// Float32 steering value per frame whose log time is jittered by up to +-30 ms, and a String
// status once per second. The same messages go into an MCAP file and a rosbag2 SQLite3 bag.

const HEADER = 'std_msgs/Header header';
const DEFINITIONS: Record<string, string> = {
  'sensor_msgs/msg/CompressedImage': `${HEADER}\nstring format\nuint8[] data\n` +
    '================================================================================\nMSG: std_msgs/Header\n' +
    'builtin_interfaces/Time stamp\nstring frame_id\n' +
    '================================================================================\nMSG: builtin_interfaces/Time\n' +
    'int32 sec\nuint32 nanosec\n',
  'std_msgs/msg/Float32': 'float32 data\n',
  'std_msgs/msg/String': 'string data\n',
};

export const DRIVE_TOPICS = {
  image: '/camera/image/compressed',
  steering: '/steering',
  status: '/status',
} as const;

export const DRIVE_START_NS = 1_600_000_000_000_000_000n;
const FRAME_NS = 100_000_000n;

export interface DriveMessage {
  topic: string;
  type: string;
  logTime: bigint;
  data: Uint8Array;
}

export interface Drive {
  messages: DriveMessage[];
  /** Steering value of frame i, which the matcher must pair with frame i. */
  steering: number[];
  /** Log-time offset of each steering message from its frame, in ms. */
  jitterMs: number[];
}

function writer(type: string): MessageWriter {
  return new MessageWriter(parse(DEFINITIONS[type] as string, { ros2: true }));
}

/** Builds the drive's messages in log-time order. */
export async function buildDrive(frames: number): Promise<Drive> {
  const imageWriter = writer('sensor_msgs/msg/CompressedImage');
  const floatWriter = writer('std_msgs/msg/Float32');
  const stringWriter = writer('std_msgs/msg/String');
  const messages: DriveMessage[] = [];
  const steering: number[] = [];
  const jitterMs: number[] = [];
  const next = mulberry32(frames);
  for (let i = 0; i < frames; i += 1) {
    const time = DRIVE_START_NS + BigInt(i) * FRAME_NS;
    // Noise does not compress, so frames are about 9 KB and the MCAP file holds many chunks.
    const pixels = new Uint8Array(64 * 48 * 3).map(() => Math.floor(next() * 256));
    const png = await sharp(pixels, { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer();
    const stamp = { sec: Number(time / 1_000_000_000n), nanosec: Number(time % 1_000_000_000n) };
    messages.push({
      topic: DRIVE_TOPICS.image,
      type: 'sensor_msgs/msg/CompressedImage',
      logTime: time,
      data: imageWriter.writeMessage({ header: { stamp, frame_id: 'camera' }, format: 'png', data: png }),
    });
    const jitter = ((i * 37) % 61) - 30;
    const value = 60 + ((i * 13) % 47);
    steering.push(value);
    jitterMs.push(jitter);
    messages.push({
      topic: DRIVE_TOPICS.steering,
      type: 'std_msgs/msg/Float32',
      logTime: time + BigInt(jitter) * 1_000_000n,
      data: floatWriter.writeMessage({ data: value }),
    });
    if (i % 10 === 0) {
      messages.push({
        topic: DRIVE_TOPICS.status,
        type: 'std_msgs/msg/String',
        logTime: time,
        data: stringWriter.writeMessage({ data: `run:lap-${i / 10}` }),
      });
    }
  }
  messages.sort((a, b) => compareBigInt(a.logTime, b.logTime));
  return { messages, steering, jitterMs };
}

function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class MemoryWritable implements IWritable {
  readonly parts: Uint8Array[] = [];
  private offset = 0n;

  async write(buffer: Uint8Array): Promise<void> {
    this.parts.push(buffer.slice());
    this.offset += BigInt(buffer.length);
  }

  position(): bigint {
    return this.offset;
  }
}

/** Writes the drive as a zstd-chunked MCAP file with embedded ros2msg schemas; returns its bytes. */
export async function writeDriveMcap(file: string, drive: Drive): Promise<Buffer> {
  await zstd.isLoaded;
  const writable = new MemoryWritable();
  const mcap = new McapWriter({
    writable,
    chunkSize: 32 * 1024,
    compressChunk: (data) => ({ compression: 'zstd', compressedData: zstd.compress(data, 3) }),
  });
  await mcap.start({ profile: 'ros2', library: 'fieldloop test' });
  const channels = new Map<string, number>();
  for (const [topic, type] of new Map(drive.messages.map((m) => [m.topic, m.type]))) {
    const schemaId = await mcap.registerSchema({ name: type, encoding: 'ros2msg', data: new TextEncoder().encode(DEFINITIONS[type]) });
    channels.set(topic, await mcap.registerChannel({ topic, schemaId, messageEncoding: 'cdr', metadata: new Map() }));
  }
  for (const [sequence, message] of drive.messages.entries()) {
    await mcap.addMessage({
      channelId: channels.get(message.topic) as number,
      sequence,
      logTime: message.logTime,
      publishTime: message.logTime,
      data: message.data,
    });
  }
  await mcap.end();
  const bytes = Buffer.concat(writable.parts);
  await writeFile(file, bytes);
  return bytes;
}

/** Writes the drive as a rosbag2 SQLite3 bag directory, split into `files` files, without definitions. */
export async function writeDriveSqlite(dir: string, name: string, drive: Drive, files = 2): Promise<void> {
  await mkdir(dir, { recursive: true });
  const topics: TopicSpec[] = [...new Map(drive.messages.map((m) => [m.topic, m.type]))].map(([topic, type]) => ({ name: topic, type }));
  const perFile = Math.ceil(drive.messages.length / files);
  const fileSpecs: Array<{ path: string; messages: MessageSpec[] }> = [];
  for (let index = 0; index < files; index += 1) {
    const path = `${name}_${index}.db3`;
    const messages = drive.messages
      .slice(index * perFile, (index + 1) * perFile)
      .map((m) => ({ topic: m.topic, timestamp: m.logTime, data: m.data }));
    writeRosbag2Db3(join(dir, path), { schemaVersion: 3, topics, messages });
    fileSpecs.push({ path, messages });
  }
  await writeMetadataYaml(dir, { version: 5, topics, files: fileSpecs });
}
