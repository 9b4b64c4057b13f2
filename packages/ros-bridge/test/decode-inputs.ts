import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { Bag } from '@foxglove/rosbag';
import Bzip2 from '@foxglove/wasm-bz2';
import { McapIndexedReader } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import Database from 'better-sqlite3';

import type { RawMessage, RecordingChannel } from '../src/recording/recording-reader.ts';

/** Channels and messages of one file, read directly so the decode tests do not need a recording reader. */
export interface DecodeInput {
  channels: RecordingChannel[];
  messages: RawMessage[];
}

/** Reads every message of an indexed MCAP file, in log-time order. */
export async function readMcapInput(path: string): Promise<DecodeInput> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const reader = await McapIndexedReader.Initialize({
      readable: {
        size: async () => BigInt(size),
        read: async (offset, length) => {
          const buffer = new Uint8Array(Number(length));
          await handle.read(buffer, 0, buffer.byteLength, Number(offset));
          return buffer;
        },
      },
      decompressHandlers: await loadDecompressHandlers(),
    });

    const channels = new Map<number, RecordingChannel>();
    for (const [id, channel] of reader.channelsById) {
      const schema = reader.schemasById.get(channel.schemaId);
      channels.set(id, {
        id,
        topic: channel.topic,
        type: schema?.name ?? '',
        encoding: channel.messageEncoding,
        definition:
          schema === undefined
            ? null
            : { encoding: schema.encoding, text: new TextDecoder().decode(schema.data) },
        declaredCount: Number(reader.statistics?.channelMessageCounts.get(id) ?? 0n),
      });
    }

    const messages: RawMessage[] = [];
    for await (const message of reader.readMessages()) {
      const channel = channels.get(message.channelId);
      if (channel === undefined) throw new Error(`${path}: message on unknown channel ${message.channelId}`);
      messages.push({
        channel,
        logTime: message.logTime,
        publishTime: message.publishTime,
        data: message.data,
        file: path,
      });
    }
    return { channels: [...channels.values()], messages };
  } finally {
    await handle.close();
  }
}

/**
 * Reads every message of a rosbag2 SQLite3 file in timestamp order, with `definition` null on
 * every channel even where the file stores definitions. The file is copied to a temporary folder
 * first, because opening a WAL-mode database writes files beside it.
 */
export function readSqliteInput(path: string): DecodeInput {
  const dir = mkdtempSync(join(tmpdir(), 'fieldloop-decode-'));
  const copy = join(dir, basename(path));
  copyFileSync(path, copy);
  const db = new Database(copy, { readonly: true });
  try {
    const topics = db
      .prepare('SELECT id, name, type, serialization_format FROM topics ORDER BY id')
      .all() as Array<{ id: number; name: string; type: string; serialization_format: string }>;
    const channels = new Map<number, RecordingChannel>();
    for (const topic of topics) {
      channels.set(topic.id, {
        id: topic.id,
        topic: topic.name,
        type: topic.type,
        encoding: topic.serialization_format,
        definition: null,
        declaredCount: null,
      });
    }

    const rows = db
      .prepare('SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp, id')
      .safeIntegers(true)
      .all() as Array<{ topic_id: bigint; timestamp: bigint; data: Buffer }>;
    const messages = rows.map((row): RawMessage => {
      const channel = channels.get(Number(row.topic_id));
      if (channel === undefined) throw new Error(`${path}: message on unknown topic id ${row.topic_id}`);
      const data = new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength);
      return { channel, logTime: row.timestamp, publishTime: row.timestamp, data, file: path };
    });
    return { channels: [...channels.values()], messages };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads the messages of a ROS 1 bag on the given topics, in log-time order, with the bag's embedded definitions. */
export async function readRos1BagInput(path: string, topics: string[]): Promise<DecodeInput> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const bzip2 = await Bzip2.init();
    const bag = new Bag(
      {
        size: () => size,
        read: async (offset, length) => {
          const buffer = new Uint8Array(length);
          await handle.read(buffer, 0, length, offset);
          return buffer;
        },
      },
      {
        parse: false,
        decompress: { bz2: (buffer, decompressedSize) => bzip2.decompress(buffer, decompressedSize) },
      },
    );
    await bag.open();

    const channels = new Map<number, RecordingChannel>();
    for (const [id, connection] of bag.connections) {
      channels.set(id, {
        id,
        topic: connection.topic,
        type: connection.type ?? '',
        encoding: 'ros1',
        definition: { encoding: 'ros1msg', text: connection.messageDefinition },
        declaredCount: null,
      });
    }

    const messages: RawMessage[] = [];
    for await (const event of bag.messageIterator({ topics })) {
      const channel = channels.get(event.connectionId);
      if (channel === undefined) throw new Error(`${path}: message on unknown connection ${event.connectionId}`);
      const logTime = BigInt(event.timestamp.sec) * 1_000_000_000n + BigInt(event.timestamp.nsec);
      messages.push({ channel, logTime, publishTime: logTime, data: event.data, file: path });
    }
    return { channels: [...channels.values()], messages };
  } finally {
    await handle.close();
  }
}
