import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { compress, isLoaded } from '@foxglove/wasm-zstd';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSharedData } from '@fieldloop/contracts';
import { openMcap } from '../src/recording/mcap-reader.ts';
import { RecordingError, type RecordingReader } from '../src/recording/recording-reader.ts';
import { isRosbag2Directory, openRosbag2Directory } from '../src/recording/rosbag2-directory.ts';
import { openRosbag2Sqlite } from '../src/recording/sqlite-reader.ts';
import { collectRawMessages, countByTopic } from './support/collect-raw-messages.ts';
import {
  buildMetadataYaml,
  makeTempDir,
  payloads,
  removeTempDir,
  writeMetadataYaml,
  writeRosbag2Db3,
  type MessageSpec,
  type MetadataSpec,
  type TopicSpec,
} from './support/rosbag2-bag-writer.ts';

const TOPICS: TopicSpec[] = [
  { name: '/chatter', type: 'std_msgs/msg/String', definition: { encoding: 'ros2msg', text: 'string data' } },
  { name: '/odom', type: 'nav_msgs/msg/Odometry' },
];

const BODIES = payloads(7);
const FILE_0: MessageSpec[] = [
  { topic: '/odom', timestamp: 300n, data: BODIES[0]! },
  { topic: '/chatter', timestamp: 100n, data: BODIES[1]! },
];
const FILE_1: MessageSpec[] = [
  { topic: '/chatter', timestamp: 500n, data: BODIES[2]! },
  { topic: '/odom', timestamp: 400n, data: BODIES[3]! },
  { topic: '/chatter', timestamp: 600n, data: BODIES[4]! },
];
const FILE_2: MessageSpec[] = [{ topic: '/odom', timestamp: 700n, data: BODIES[5]! }];
const SPLITS = [FILE_0, FILE_1, FILE_2];

/** Opens `.db3` files with the SQLite reader and `.mcap` files with the MCAP reader. */
function openStorageFile(file: string): Promise<RecordingReader> {
  return file.endsWith('.mcap') ? openMcap(file) : openRosbag2Sqlite(file);
}

let root: string;
let bagCount = 0;

/** Writes a split bag under a fresh directory; the file names use the split indexes given. */
async function writeSplitBag(
  options: { indexes?: number[]; metadata?: Partial<MetadataSpec> | null; schemaVersion?: 1 | 2 | 3 | 4 } = {},
): Promise<{ dir: string; files: string[] }> {
  bagCount += 1;
  const dir = join(root, `bag${bagCount}`);
  await mkdir(dir);
  const indexes = options.indexes ?? [0, 1, 2];
  const names = indexes.map((index) => `bag${bagCount}_${index}.db3`);
  for (const [position, name] of names.entries()) {
    writeRosbag2Db3(join(dir, name), {
      schemaVersion: options.schemaVersion ?? 4,
      topics: TOPICS,
      messages: SPLITS[position] ?? [],
    });
  }
  if (options.metadata !== null) {
    await writeMetadataYaml(dir, {
      version: 5,
      topics: TOPICS,
      files: names.map((path, position) => ({ path, messages: SPLITS[position] ?? [] })),
      ...options.metadata,
    });
  }
  return { dir, files: names.map((name) => join(dir, name)) };
}

beforeAll(async () => {
  root = await makeTempDir();
  await isLoaded;
});

afterAll(async () => {
  await removeTempDir(root);
});

describe('openRosbag2Directory with metadata.yaml', () => {
  it('reads split files as one recording', async () => {
    const { dir, files } = await writeSplitBag();
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      expect(reader.format).toBe('rosbag2-sqlite3');
      expect(reader.path).toBe(dir);
      expect(reader.files).toEqual(files);
      const channels = reader.channels();
      expect(channels.map((channel) => channel.topic)).toEqual(['/chatter', '/odom']);
      expect(new Set(channels.map((channel) => channel.id)).size).toBe(2);
      expect(channels.map((channel) => channel.declaredCount)).toEqual([3, 3]);
      expect(channels[0]?.definition).toEqual({ encoding: 'ros2msg', text: 'string data' });

      const messages = await collectRawMessages(reader);
      expect(messages.map((message) => message.logTime)).toEqual([100n, 300n, 400n, 500n, 600n, 700n]);
      expect(messages.map((message) => basename(message.file))).toEqual([
        basename(files[0]!),
        basename(files[0]!),
        basename(files[1]!),
        basename(files[1]!),
        basename(files[1]!),
        basename(files[2]!),
      ]);
      expect(messages.every((message) => channels.includes(message.channel))).toBe(true);
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('takes the encoding from metadata.yaml', async () => {
    const topics = TOPICS.map((topic) => ({ ...topic, serializationFormat: 'wrong_format' }));
    const { dir } = await writeSplitBag({ metadata: { topics } });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      expect(reader.channels().map((channel) => channel.encoding)).toEqual(['wrong_format', 'wrong_format']);
      const messages = await collectRawMessages(reader);
      expect(messages.every((message) => message.channel.encoding === 'wrong_format')).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('adds topics that metadata.yaml lacks', async () => {
    const { dir } = await writeSplitBag({ metadata: { topics: [TOPICS[0]!] } });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      expect(reader.channels().map((channel) => [channel.topic, channel.declaredCount])).toEqual([
        ['/chatter', 3],
        ['/odom', null],
      ]);
    } finally {
      await reader.close();
    }
  });

  it('reports a file with fewer messages', async () => {
    const { dir, files } = await writeSplitBag({ metadata: { fileMessageCounts: [2, 5, 1] } });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      await collectRawMessages(reader);
      const losses = reader.losses();
      expect(losses).toHaveLength(1);
      expect(losses[0]?.file).toBe(files[1]);
      expect(losses[0]?.messages).toBe(2);
      expect(losses[0]?.reason).toContain('declares 5 messages');
    } finally {
      await reader.close();
    }
  });

  it('reports topics short of a version 4 count', async () => {
    const { dir } = await writeSplitBag({ metadata: { version: 4, topicMessageCounts: { '/odom': 10 } } });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      await collectRawMessages(reader);
      const losses = reader.losses();
      expect(losses).toHaveLength(1);
      expect(losses[0]?.messages).toBe(7);
      expect(losses[0]?.file).toBe(join(dir, 'metadata.yaml'));
      expect(losses[0]?.reason).toContain('/odom');
    } finally {
      await reader.close();
    }
  });

  it('resolves version 3 paths from the parent', async () => {
    const { dir, files } = await writeSplitBag();
    const names = files.map((file) => `${basename(dir)}/${basename(file)}`);
    await writeMetadataYaml(dir, {
      version: 3,
      topics: TOPICS,
      files: names.map((path, position) => ({ path, messages: SPLITS[position] ?? [] })),
    });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      expect(reader.files).toEqual(files);
      expect(await collectRawMessages(reader)).toHaveLength(6);
    } finally {
      await reader.close();
    }
  });

  it('rejects a missing listed file', async () => {
    const { dir, files } = await writeSplitBag();
    await writeMetadataYaml(dir, {
      version: 5,
      topics: TOPICS,
      files: [...files.map((file) => ({ path: basename(file), messages: [] })), { path: 'gone_3.db3', messages: [] }],
    });
    const error = await openRosbag2Directory(dir, openStorageFile).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as RecordingError).path).toBe(join(dir, 'gone_3.db3'));
    expect((error as RecordingError).message).toContain('gone_3.db3');
    expect((error as RecordingError).message).toContain('delete metadata.yaml');
  });

  it('rejects an unknown storage identifier', async () => {
    const { dir } = await writeSplitBag({ metadata: { storageIdentifier: 'rosbag_v2' } });
    await expect(openRosbag2Directory(dir, openStorageFile)).rejects.toThrow(/storage_identifier 'rosbag_v2'/);
  });

  it('rejects files of another format', async () => {
    const { dir } = await writeSplitBag({ metadata: { storageIdentifier: 'mcap' } });
    await expect(openRosbag2Directory(dir, openStorageFile)).rejects.toThrow(
      /is a rosbag2-sqlite3 file, but the bag in .* stores mcap/,
    );
  });

  it('rejects compression mode file', async () => {
    const { dir } = await writeSplitBag({ metadata: { compressionMode: 'FILE', compressionFormat: 'zstd' } });
    await expect(openRosbag2Directory(dir, openStorageFile)).rejects.toThrow(/compression mode 'FILE' .*zstd -d/);
  });

  it('rejects an unknown compression format', async () => {
    const { dir } = await writeSplitBag({ metadata: { compressionMode: 'MESSAGE', compressionFormat: 'lz4' } });
    await expect(openRosbag2Directory(dir, openStorageFile)).rejects.toThrow(/format 'lz4' is not supported/);
  });

  it('rejects a topic whose type changes', async () => {
    const { dir, files } = await writeSplitBag();
    writeRosbag2Db3(`${files[2]}`.replace('_2.db3', '_3.db3'), {
      schemaVersion: 4,
      topics: [{ name: '/odom', type: 'geometry_msgs/msg/Pose' }],
      messages: [],
    });
    await writeMetadataYaml(dir, {
      version: 5,
      topics: TOPICS,
      files: [...files, files[2]!.replace('_2.db3', '_3.db3')].map((file) => ({ path: basename(file), messages: [] })),
    });
    await expect(openRosbag2Directory(dir, openStorageFile)).rejects.toThrow(
      /topic \/odom has type nav_msgs\/msg\/Odometry in .* but geometry_msgs\/msg\/Pose in/,
    );
  });

  it('closes during iteration', async () => {
    const { dir } = await writeSplitBag();
    const reader = await openRosbag2Directory(dir, openStorageFile);
    const iterator = reader.messages()[Symbol.asyncIterator]();
    await iterator.next();
    await reader.close();
    expect((await iterator.next()).done).toBe(true);
    expect(reader.losses()).toEqual([]);
  });
});

describe('openRosbag2Directory message compression', () => {
  it('decompresses zstd payloads', async () => {
    bagCount += 1;
    const dir = join(root, `zstd${bagCount}`);
    await mkdir(dir);
    const compressed = FILE_1.map((message) => ({ ...message, data: new Uint8Array(compress(message.data)) }));
    writeRosbag2Db3(join(dir, 'z_0.db3'), { schemaVersion: 3, topics: TOPICS, messages: compressed });
    await writeMetadataYaml(dir, {
      version: 5,
      topics: TOPICS,
      files: [{ path: 'z_0.db3', messages: FILE_1 }],
      compressionMode: 'MESSAGE',
      compressionFormat: 'zstd',
    });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      const messages = await collectRawMessages(reader);
      const expected = [...FILE_1].sort((a, b) => Number(a.timestamp - b.timestamp));
      expect(messages.map((message) => Buffer.from(message.data).toString('hex'))).toEqual(
        expected.map((message) => Buffer.from(message.data).toString('hex')),
      );
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('reports payloads that fail to decompress', async () => {
    bagCount += 1;
    const dir = join(root, `zstd${bagCount}`);
    await mkdir(dir);
    const messages = [
      { topic: '/chatter', timestamp: 10n, data: new Uint8Array(compress(BODIES[0]!)) },
      { topic: '/chatter', timestamp: 20n, data: new Uint8Array([1, 2, 3, 4, 5]) },
    ];
    writeRosbag2Db3(join(dir, 'z_0.db3'), { schemaVersion: 3, topics: TOPICS, messages });
    await writeMetadataYaml(dir, {
      version: 5,
      topics: TOPICS,
      files: [{ path: 'z_0.db3', messages }],
      compressionMode: 'message',
      compressionFormat: 'zstd',
    });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      expect(await collectRawMessages(reader)).toHaveLength(1);
      const losses = reader.losses();
      expect(losses).toHaveLength(1);
      expect(losses[0]?.messages).toBe(1);
      expect(losses[0]?.bytes).toBe(5);
      expect(losses[0]?.startTime).toBe(20n);
      expect(losses[0]?.reason).toContain('failed to decompress');
    } finally {
      await reader.close();
    }
  });
});

describe('openRosbag2Directory without metadata.yaml', () => {
  it('orders files by split index', async () => {
    const { dir, files } = await writeSplitBag({ indexes: [0, 2, 10], metadata: null });
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      expect(reader.files).toEqual(files);
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([null, null]);
      const messages = await collectRawMessages(reader);
      expect(messages.map((message) => message.logTime)).toEqual([100n, 300n, 400n, 500n, 600n, 700n]);
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('sums the counts that every file declares', async () => {
    bagCount += 1;
    const dir = join(root, `declared${bagCount}`);
    await mkdir(dir);
    for (const [index, messages] of [FILE_0, FILE_1].entries()) {
      const name = `d_${index}.db3`;
      const row = buildMetadataYaml({
        version: 5,
        topics: TOPICS,
        files: [{ path: name, messages }],
        withoutTopLevelKey: true,
      });
      writeRosbag2Db3(join(dir, name), { schemaVersion: 3, topics: TOPICS, messages, metadataRows: [row] });
    }
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([3, 2]);
    } finally {
      await reader.close();
    }
  });

  it('rejects a directory without storage files', async () => {
    bagCount += 1;
    const dir = join(root, `nothing${bagCount}`);
    await mkdir(dir);
    await writeFile(join(dir, 'readme.txt'), 'no bag here');
    await expect(openRosbag2Directory(dir, openStorageFile)).rejects.toThrow(/no metadata\.yaml and no storage files/);
  });

  it('rejects a path that is a file', async () => {
    const { files } = await writeSplitBag();
    await expect(openRosbag2Directory(files[0]!, openStorageFile)).rejects.toThrow(/is not a directory/);
  });
});

describe('isRosbag2Directory', () => {
  it('accepts a directory with metadata.yaml', async () => {
    const { dir } = await writeSplitBag();
    expect(await isRosbag2Directory(dir)).toBe(true);
  });

  it('accepts split files alone', async () => {
    const { dir } = await writeSplitBag({ metadata: null });
    expect(await isRosbag2Directory(dir)).toBe(true);
  });

  it('rejects other directories', async () => {
    bagCount += 1;
    const dir = join(root, `plain${bagCount}`);
    await mkdir(dir);
    await writeFile(join(dir, 'bag.db3'), '');
    await writeFile(join(dir, 'notes_1.txt'), '');
    expect(await isRosbag2Directory(dir)).toBe(false);
  });

  it('rejects files and missing paths', async () => {
    const { files } = await writeSplitBag();
    expect(await isRosbag2Directory(files[0]!)).toBe(false);
    expect(await isRosbag2Directory(join(root, 'absent'))).toBe(false);
  });
});

const data = findSharedData();
const bags = data === null ? null : join(data, 'bags');

describe.skipIf(bags === null)('openRosbag2Directory on real bags (skipped: shared/data/bags not found)', () => {
  const fixtures = (...parts: string[]): string => join(bags!, 'rosbag2_fixtures', ...parts);

  async function readBag(dir: string): Promise<{ reader: RecordingReader; counts: Record<string, number> }> {
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      const counts = countByTopic(await collectRawMessages(reader));
      return { reader, counts };
    } finally {
      await reader.close();
    }
  }

  it('reads husky_test1 across three files', async () => {
    const dir = join(bags!, 'husky_test1', 'sqlite3');
    const { reader, counts } = await readBag(dir);
    expect(reader.files.map((file) => basename(file))).toEqual([
      'husky_test1_0.db3',
      'husky_test1_1.db3',
      'husky_test1_2.db3',
    ]);
    expect(counts).toEqual({ '/imu/data': 11865, '/husky_velocity_controller/odom': 3952, '/fix': 989 });
    expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([11865, 3952, 989]);
    expect(reader.losses()).toEqual([]);
  });

  it('reads rc_night_a', async () => {
    const { counts, reader } = await readBag(join(bags!, 'rc_night_a', 'sqlite3'));
    expect(counts).toEqual({ '/camera/front/image_raw/compressed': 108, '/rc/steering_servo': 108, '/rc/status': 11 });
    expect(reader.losses()).toEqual([]);
  });

  it('reads the WAL talker without writing', async () => {
    const dir = fixtures('rosbag2_py', 'test', 'resources', 'sqlite3', 'talker');
    const before = await readdir(dir);
    const { counts, reader } = await readBag(dir);
    expect(counts).toEqual({ '/topic': 10, '/rosout': 10 });
    expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([10, 10, 0]);
    expect(await readdir(dir)).toEqual(before);
    expect(existsSync(join(dir, 'talker.db3-wal'))).toBe(false);
    expect(existsSync(join(dir, 'talker.db3-shm'))).toBe(false);
  });

  it('reads cdr_test version 7', async () => {
    const { counts, reader } = await readBag(fixtures('rosbag2_tests', 'resources', 'sqlite3', 'cdr_test'));
    expect(counts).toEqual({ '/test_topic': 3, '/array_topic': 4 });
    expect(reader.channels().every((channel) => channel.definition?.encoding === 'ros2msg')).toBe(true);
    expect(reader.losses()).toEqual([]);
  });

  it('trusts metadata.yaml in wrong_rmw_test', async () => {
    const dir = fixtures('rosbag2_tests', 'resources', 'sqlite3', 'wrong_rmw_test');
    const before = await readdir(dir);
    const { counts, reader } = await readBag(dir);
    expect(reader.channels().map((channel) => channel.encoding)).toEqual(['wrong_format', 'wrong_format']);
    expect(counts).toEqual({ '/test_topic': 3, '/array_topic': 4 });
    expect(await readdir(dir)).toEqual(before);
  });

  it('rebuilds reindex multiple_files', async () => {
    const dir = fixtures('rosbag2_py', 'test', 'resources', 'sqlite3', 'reindex_test_bags', 'multiple_files');
    expect(await isRosbag2Directory(dir)).toBe(true);
    const reader = await openRosbag2Directory(dir, openStorageFile);
    try {
      const perFile: Record<string, number> = {};
      for await (const message of reader.messages()) {
        perFile[basename(message.file)] = (perFile[basename(message.file)] ?? 0) + 1;
        expect(message.channel.topic).toBe('/chatter');
      }
      expect(perFile).toEqual({ 'multiple_files_0.db3': 1324, 'multiple_files_1.db3': 1324, 'multiple_files_2.db3': 529 });
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('reads the MCAP talker', async () => {
    const { counts, reader } = await readBag(fixtures('rosbag2_py', 'test', 'resources', 'mcap', 'talker'));
    expect(reader.format).toBe('mcap');
    expect(counts).toEqual({ '/topic': 10, '/rosout': 10 });
  });

  it('trusts metadata.yaml in the MCAP wrong_rmw_test', async () => {
    const { reader } = await readBag(fixtures('rosbag2_tests', 'resources', 'mcap', 'wrong_rmw_test'));
    expect(reader.channels().map((channel) => channel.encoding)).toEqual(['wrong_format', 'wrong_format']);
  });

  it('reads MCAP multiple_files without metadata.yaml', async () => {
    const { counts, reader } = await readBag(
      fixtures('rosbag2_py', 'test', 'resources', 'mcap', 'reindex_test_bags', 'multiple_files'),
    );
    expect(reader.files).toHaveLength(3);
    expect(counts).toEqual({ '/chatter': 3177 });
  });
});
