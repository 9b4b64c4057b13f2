import { open, type FileHandle } from 'node:fs/promises';
import { Bag } from '@foxglove/rosbag';
import { FileReader } from '@foxglove/rosbag/node.js';
import type { RawMessage, ReadLoss, RecordingChannel, RecordingReader } from './recording-reader.ts';
import { RecordingError } from './recording-reader.ts';
import { buildRos1Channels, type Ros1Channels } from './ros1-channels.ts';
import {
  isSupportedCompression,
  loadDecompressorFor,
  unsupportedCompressionError,
  type Ros1Decompress,
} from './ros1-decompress.ts';
import { readBytesAt, readRecordHeaderAt } from './ros1-file.ts';
import {
  fieldString,
  fieldUint32,
  fieldUint64,
  ROS1_BAG_MAGIC,
  Ros1Op,
  timeToNs,
  type Ros1Connection,
} from './ros1-record.ts';
import { planRos1Salvage, readSalvagedMessages, type Ros1SalvagePlan } from './ros1-salvage.ts';

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Reads a bag through its index with `@foxglove/rosbag`. */
class IndexedRos1BagReader implements RecordingReader {
  readonly format = 'ros1-bag' as const;
  readonly files: readonly string[];

  constructor(
    readonly path: string,
    private readonly bag: Bag,
    private readonly fileReader: FileReader,
    private readonly channelMap: Ros1Channels,
  ) {
    this.files = [path];
  }

  channels(): readonly RecordingChannel[] {
    return this.channelMap.channels;
  }

  async *messages(): AsyncIterable<RawMessage> {
    // The library's iterator needs a start time, which a bag without chunks lacks.
    if (this.bag.chunkInfos.length === 0) return;
    try {
      for await (const event of this.bag.messageIterator()) {
        const channel = this.channelMap.byConnection.get(event.connectionId);
        if (channel === undefined) {
          throw new Error(`a message uses connection id ${event.connectionId}, which the index does not list`);
        }
        const logTime = timeToNs(event.timestamp.sec, event.timestamp.nsec);
        yield { channel, logTime, publishTime: logTime, data: event.data, file: this.path };
      }
    } catch (error) {
      if (error instanceof RecordingError) throw error;
      throw new RecordingError(
        this.path,
        `Reading messages from ROS 1 bag ${this.path} failed: ${errorMessage(error)}; ` +
          'the file may be damaged, so try `rosbag reindex` on a copy of it',
        { cause: error },
      );
    }
  }

  losses(): readonly ReadLoss[] {
    return [];
  }

  async close(): Promise<void> {
    await this.fileReader.close();
  }
}

/** Reads a bag without its index, from the records that remain in the file. */
class SalvagedRos1BagReader implements RecordingReader {
  readonly format = 'ros1-bag' as const;
  readonly files: readonly string[];

  constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly plan: Ros1SalvagePlan,
    private readonly channelMap: Ros1Channels,
  ) {
    this.files = [path];
  }

  channels(): readonly RecordingChannel[] {
    return this.channelMap.channels;
  }

  async *messages(): AsyncIterable<RawMessage> {
    try {
      yield* readSalvagedMessages(this.handle, this.path, this.plan, this.channelMap.byConnection);
    } catch (error) {
      if (error instanceof RecordingError) throw error;
      throw new RecordingError(
        this.path,
        `Reading the recovered messages of ROS 1 bag ${this.path} failed: ${errorMessage(error)}; ` +
          'check that nothing writes to the file while it is read',
        { cause: error },
      );
    }
  }

  losses(): readonly ReadLoss[] {
    return this.plan.losses;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Bag header fields. `indexPosition` is 0 in a bag that the recorder never closed. */
interface Ros1BagHeader {
  indexPosition: number;
  chunkCount: number;
}

async function checkMagic(handle: FileHandle, path: string): Promise<void> {
  const head = Buffer.from(await readBytesAt(handle, 0, ROS1_BAG_MAGIC.length)).toString('latin1');
  if (head === ROS1_BAG_MAGIC) return;
  if (head.startsWith('#ROSBAG V')) {
    throw new RecordingError(
      path,
      `${path} is a ROS 1 bag of format ${JSON.stringify(head.trim().slice(1))}, but only V2.0 is supported; ` +
        'rewrite it as V2.0 with ROS 1 tools, for example `rosbag filter in.bag out.bag True`',
    );
  }
  throw new RecordingError(
    path,
    `${path} is not a ROS 1 bag: it does not start with "#ROSBAG V2.0"; pass a ROS 1 bag (.bag) file`,
  );
}

/** Reads the bag header record, or returns null when the file ends inside it. */
async function readBagHeader(handle: FileHandle, path: string, fileSize: number): Promise<Ros1BagHeader | null> {
  const read = await readRecordHeaderAt(handle, ROS1_BAG_MAGIC.length, fileSize);
  if (read.kind === 'truncated') return null;
  const invalid = (detail: string) =>
    new RecordingError(
      path,
      `${path} has an invalid bag header record at byte ${ROS1_BAG_MAGIC.length} (${detail}); the file is damaged`,
    );
  if (read.kind === 'invalid') throw invalid(read.reason);
  if (read.header.op !== Ros1Op.BagHeader) throw invalid(`op is 0x${read.header.op.toString(16)} instead of 0x03`);
  try {
    return {
      indexPosition: fieldUint64(read.header.fields, 'index_pos'),
      chunkCount: fieldUint32(read.header.fields, 'chunk_count'),
    };
  } catch (error) {
    throw invalid(errorMessage(error));
  }
}

/** Reads the compression field of every chunk that the index lists. */
async function readChunkCompressions(handle: FileHandle, bag: Bag, fileSize: number): Promise<Map<string, number>> {
  const firstOffsets = new Map<string, number>();
  for (const info of bag.chunkInfos) {
    const read = await readRecordHeaderAt(handle, info.chunkPosition, fileSize);
    if (read.kind !== 'header' || read.header.op !== Ros1Op.Chunk) {
      throw new Error(`the index lists a chunk at byte ${info.chunkPosition}, but no chunk record starts there`);
    }
    const compression = fieldString(read.header.fields, 'compression');
    if (!firstOffsets.has(compression)) firstOffsets.set(compression, info.chunkPosition);
  }
  return firstOffsets;
}

type LibraryConnection = NonNullable<ReturnType<Bag['connections']['get']>>;

function connectionFromLibrary(connection: LibraryConnection): Ros1Connection {
  if (connection.type === undefined || connection.md5sum === undefined) {
    throw new Error(`connection ${connection.conn} on topic ${connection.topic} has no type or md5sum`);
  }
  return {
    conn: connection.conn,
    topic: connection.topic,
    type: connection.type,
    md5sum: connection.md5sum,
    messageDefinition: connection.messageDefinition,
  };
}

/**
 * Opens the bag through its index. Throws RecordingError for problems that salvage cannot fix
 * and a plain Error when the index itself is unusable.
 */
async function openIndexed(path: string, handle: FileHandle, fileSize: number): Promise<IndexedRos1BagReader> {
  // The library reads `decompress` when iteration starts, so decoders added after open() are used.
  const decompress: Record<string, Ros1Decompress> = {};
  const fileReader = new FileReader(path);
  const bag = new Bag(fileReader, { parse: false, decompress });
  try {
    await bag.open();
    for (const [compression, offset] of await readChunkCompressions(handle, bag, fileSize)) {
      if (compression === 'none') continue;
      if (!isSupportedCompression(compression)) throw unsupportedCompressionError(path, compression, offset);
      decompress[compression] = await loadDecompressorFor(path, compression);
    }

    const counts = new Map<number, number>();
    for (const info of bag.chunkInfos) {
      for (const { conn, count } of info.connections) counts.set(conn, (counts.get(conn) ?? 0) + count);
    }
    const connections = [...bag.connections.values()].map(connectionFromLibrary);
    return new IndexedRos1BagReader(path, bag, fileReader, buildRos1Channels(connections, counts));
  } catch (error) {
    await fileReader.close();
    throw error;
  }
}

async function openSalvaged(path: string, handle: FileHandle, fileSize: number, indexPosition: number, reason: string) {
  const plan = await planRos1Salvage(handle, { path, fileSize, indexPosition, reason });
  return new SalvagedRos1BagReader(path, handle, plan, buildRos1Channels(plan.connections.values(), null));
}

/**
 * Opens a ROS 1 bag (format V2.0) with chunks that are uncompressed, bz2 or lz4. A bag whose index
 * is missing or unusable, such as one cut by power loss, is read record by record from the start:
 * every complete message is kept and `losses()` reports the rest.
 */
export async function openRos1Bag(path: string): Promise<RecordingReader> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new RecordingError(
      path,
      `Cannot open ROS 1 bag ${path}: ${errorMessage(error)}; check the path and its permissions`,
      { cause: error },
    );
  }

  try {
    const fileSize = (await handle.stat()).size;
    await checkMagic(handle, path);
    const header = await readBagHeader(handle, path, fileSize);
    if (header === null) {
      return await openSalvaged(path, handle, fileSize, 0, 'The file ends inside the bag header record');
    }
    const { indexPosition } = header;
    if (indexPosition === 0) {
      const reason =
        'The bag header states no index position, which happens when the recorder stopped before closing the bag';
      return await openSalvaged(path, handle, fileSize, 0, reason);
    }
    if (indexPosition >= fileSize) {
      const reason =
        `The bag header places the index at byte ${indexPosition}, but the file has only ${fileSize} bytes ` +
        `(the header states ${header.chunkCount} chunks)`;
      return await openSalvaged(path, handle, fileSize, indexPosition, reason);
    }

    let indexed: IndexedRos1BagReader;
    try {
      indexed = await openIndexed(path, handle, fileSize);
    } catch (error) {
      if (error instanceof RecordingError) throw error;
      const reason = `Reading the index at byte ${indexPosition} failed (${errorMessage(error)})`;
      return await openSalvaged(path, handle, fileSize, indexPosition, reason);
    }
    await handle.close();
    return indexed;
  } catch (error) {
    await handle.close();
    throw error;
  }
}
