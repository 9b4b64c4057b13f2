import { open, rename, rm, writeFile, mkdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import * as zstd from '@foxglove/wasm-zstd';
import { McapWriter, type IWritable } from '@mcap/core';
import { stringify } from 'yaml';

const SEPARATOR = `${'='.repeat(80)}\n`;
const TIME = 'MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n';
const HEADER = `MSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n${SEPARATOR}${TIME}`;

/**
 * ROS 2 Humble definitions, in the `ros2msg` form rosbag2 embeds in MCAP schemas (the type's
 * fields, then each dependency after a separator line), of the types fieldloop writes.
 */
export const ROS2_MSG_SCHEMAS: Readonly<Record<string, string>> = {
  'sensor_msgs/msg/CompressedImage': `std_msgs/Header header\nstring format\nuint8[] data\n${SEPARATOR}${HEADER}`,
  'std_msgs/msg/Float32': 'float32 data\n',
  'std_msgs/msg/Float64': 'float64 data\n',
  'std_msgs/msg/String': 'string data\n',
  'std_msgs/msg/Int32': 'int32 data\n',
};

/** A topic of a bag being written. */
export interface Rosbag2TopicSpec {
  topic: string;
  /** A type of ROS2_MSG_SCHEMAS, or any type whose `ros2msg` text is given. */
  type: string;
  schemaText?: string;
}

class FileWritable implements IWritable {
  private offset = 0n;

  constructor(private readonly handle: FileHandle) {}

  async write(buffer: Uint8Array): Promise<void> {
    await this.handle.write(buffer);
    this.offset += BigInt(buffer.length);
  }

  position(): bigint {
    return this.offset;
  }
}

/**
 * Writes a rosbag2 bag directory with one zstd-chunked MCAP file and a version 5 metadata.yaml,
 * as `ros2 bag record -s mcap` lays it out. Messages are JS objects that are CDR-serialised here.
 * The directory appears under its final name only once complete.
 */
export class Rosbag2McapWriter {
  private readonly writers = new Map<string, { channelId: number; writer: MessageWriter; count: number; type: string }>();
  private sequence = 0;
  private start: bigint | null = null;
  private end: bigint | null = null;

  private constructor(
    private readonly dir: string,
    private readonly staging: string,
    private readonly fileName: string,
    private readonly handle: FileHandle,
    private readonly mcap: McapWriter,
  ) {}

  /** Starts a bag named after the last part of `dir`; `dir` must not exist yet. */
  static async create(dir: string, topics: readonly Rosbag2TopicSpec[]): Promise<Rosbag2McapWriter> {
    const name = dir.replace(/\/+$/, '').split('/').pop() as string;
    const staging = `${dir}.partial`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const fileName = `${name}_0.mcap`;
    const handle = await open(join(staging, fileName), 'w');
    await zstd.isLoaded;
    const mcap = new McapWriter({
      writable: new FileWritable(handle),
      chunkSize: 1024 * 1024,
      compressChunk: (data) => ({ compression: 'zstd', compressedData: zstd.compress(data, 3) }),
    });
    await mcap.start({ profile: 'ros2', library: 'fieldloop rosbag2-mcap-writer' });
    const writer = new Rosbag2McapWriter(dir, staging, fileName, handle, mcap);
    for (const spec of topics) await writer.addTopic(spec);
    return writer;
  }

  private async addTopic(spec: Rosbag2TopicSpec): Promise<void> {
    const text = spec.schemaText ?? ROS2_MSG_SCHEMAS[spec.type];
    if (text === undefined) {
      throw new Error(`no ros2msg definition for ${spec.type} on ${spec.topic}; pass schemaText with the .msg text`);
    }
    const schemaId = await this.mcap.registerSchema({ name: spec.type, encoding: 'ros2msg', data: new TextEncoder().encode(text) });
    const channelId = await this.mcap.registerChannel({ topic: spec.topic, schemaId, messageEncoding: 'cdr', metadata: new Map() });
    this.writers.set(spec.topic, { channelId, writer: new MessageWriter(parse(text, { ros2: true })), count: 0, type: spec.type });
  }

  /** Serialises and appends one message; call in log-time order. */
  async write(topic: string, logTime: bigint, message: unknown): Promise<void> {
    const entry = this.writers.get(topic);
    if (!entry) throw new Error(`topic ${topic} was not declared when the bag was created`);
    await this.mcap.addMessage({
      channelId: entry.channelId,
      sequence: this.sequence++,
      logTime,
      publishTime: logTime,
      data: entry.writer.writeMessage(message),
    });
    entry.count += 1;
    if (this.start === null || logTime < this.start) this.start = logTime;
    if (this.end === null || logTime > this.end) this.end = logTime;
  }

  /** Finishes the MCAP file, writes metadata.yaml and moves the bag to its final directory. */
  async close(): Promise<void> {
    await this.mcap.end();
    await this.handle.close();
    const start = this.start ?? 0n;
    const duration = (this.end ?? 0n) - start;
    const total = [...this.writers.values()].reduce((sum, entry) => sum + entry.count, 0);
    const metadata = {
      rosbag2_bagfile_information: {
        version: 5,
        storage_identifier: 'mcap',
        duration: { nanoseconds: duration },
        starting_time: { nanoseconds_since_epoch: start },
        message_count: total,
        topics_with_message_count: [...this.writers.entries()].map(([topic, entry]) => ({
          topic_metadata: { name: topic, type: entry.type, serialization_format: 'cdr', offered_qos_profiles: '' },
          message_count: entry.count,
        })),
        compression_format: '',
        compression_mode: '',
        relative_file_paths: [this.fileName],
        files: [{ path: this.fileName, starting_time: { nanoseconds_since_epoch: start }, duration: { nanoseconds: duration }, message_count: total }],
      },
    };
    await writeFile(join(this.staging, 'metadata.yaml'), stringify(metadata));
    await rename(this.staging, this.dir);
  }
}
