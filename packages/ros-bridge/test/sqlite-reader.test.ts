import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSharedData } from '@fieldloop/contracts';
import { RecordingError } from '../src/recording/recording-reader.ts';
import { openRosbag2Sqlite } from '../src/recording/sqlite-reader.ts';
import { collectRawMessages, countByTopic } from './support/collect-raw-messages.ts';
import {
  buildMetadataYaml,
  makeTempDir,
  payloads,
  removeTempDir,
  writeRosbag2Db3,
  type MessageSpec,
  type TopicSpec,
} from './support/rosbag2-bag-writer.ts';

const TOPICS: TopicSpec[] = [
  {
    name: '/chatter',
    type: 'std_msgs/msg/String',
    offeredQosProfiles: '- history: 3\n  depth: 0',
    definition: { encoding: 'ros2msg', text: 'string data' },
  },
  { name: '/empty', type: 'std_msgs/msg/Empty', definition: { encoding: 'ros2msg', text: '' } },
  { name: '/odom', type: 'nav_msgs/msg/Odometry', definition: { encoding: 'unknown', text: '' } },
];

const BODIES = payloads(6);

/** Stored out of log-time order, with a tie at 200 that row ids break. */
const MESSAGES: MessageSpec[] = [
  { topic: '/odom', timestamp: 300n, data: BODIES[0]! },
  { topic: '/chatter', timestamp: 100n, data: BODIES[1]! },
  { topic: '/chatter', timestamp: 200n, data: BODIES[2]! },
  { topic: '/odom', timestamp: 200n, data: BODIES[3]! },
  { topic: '/empty', timestamp: 150n, data: BODIES[4]! },
  { topic: '/chatter', timestamp: 9_223_372_036_854_775_000n, data: BODIES[5]! },
];

const EXPECTED_ORDER = [1, 4, 2, 3, 0, 5];

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir();
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('openRosbag2Sqlite schema versions', () => {
  for (const schemaVersion of [1, 2, 3, 4] as const) {
    it(`reads schema ${schemaVersion} in log-time order`, async () => {
      const file = join(dir, `schema${schemaVersion}.db3`);
      writeRosbag2Db3(file, { schemaVersion, topics: TOPICS, messages: MESSAGES });
      const reader = await openRosbag2Sqlite(file);
      try {
        expect(reader.format).toBe('rosbag2-sqlite3');
        expect(reader.path).toBe(file);
        expect(reader.files).toEqual([file]);
        expect(reader.channels().map((channel) => channel.topic)).toEqual(['/chatter', '/empty', '/odom']);
        expect(reader.channels().map((channel) => channel.type)).toEqual(TOPICS.map((topic) => topic.type));
        expect(reader.channels().every((channel) => channel.encoding === 'cdr')).toBe(true);
        expect(reader.channels().every((channel) => channel.declaredCount === null)).toBe(true);

        const messages = await collectRawMessages(reader);
        expect(messages.map((message) => message.logTime)).toEqual(EXPECTED_ORDER.map((i) => MESSAGES[i]!.timestamp));
        expect(messages.map((message) => Buffer.from(message.data).toString('hex'))).toEqual(
          EXPECTED_ORDER.map((i) => Buffer.from(MESSAGES[i]!.data).toString('hex')),
        );
        expect(messages.map((message) => message.channel.topic)).toEqual(EXPECTED_ORDER.map((i) => MESSAGES[i]!.topic));
        expect(messages.every((message) => message.publishTime === message.logTime)).toBe(true);
        expect(messages.every((message) => message.file === file)).toBe(true);
        expect(reader.losses()).toEqual([]);
      } finally {
        await reader.close();
      }
    });
  }

  it('takes definitions from message_definitions', async () => {
    const file = join(dir, 'definitions.db3');
    writeRosbag2Db3(file, { schemaVersion: 4, topics: TOPICS, messages: MESSAGES });
    const reader = await openRosbag2Sqlite(file);
    try {
      const [chatter, empty, odom] = reader.channels();
      expect(chatter?.definition).toEqual({ encoding: 'ros2msg', text: 'string data' });
      expect(empty?.definition).toEqual({ encoding: 'ros2msg', text: '' });
      expect(odom?.definition).toBeNull();
    } finally {
      await reader.close();
    }
  });

  it('has no definitions before schema 4', async () => {
    const file = join(dir, 'no-definitions.db3');
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES });
    const reader = await openRosbag2Sqlite(file);
    try {
      expect(reader.channels().every((channel) => channel.definition === null)).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('orders messages without a timestamp index', async () => {
    const file = join(dir, 'no-index.db3');
    const many: MessageSpec[] = payloads(500, 3).map((data, index) => ({
      topic: index % 2 === 0 ? '/chatter' : '/odom',
      timestamp: BigInt((index * 7919) % 500) * 10n,
      data,
    }));
    writeRosbag2Db3(file, { schemaVersion: 2, topics: TOPICS, messages: many, timestampIndex: false });
    const check = new Database(file, { readonly: true });
    const plan = check.prepare('EXPLAIN QUERY PLAN SELECT * FROM messages ORDER BY timestamp, id').all() as {
      detail: string;
    }[];
    check.close();
    expect(plan.some((step) => step.detail.includes('TEMP B-TREE'))).toBe(true);

    const reader = await openRosbag2Sqlite(file);
    try {
      const messages = await collectRawMessages(reader);
      const times = messages.map((message) => message.logTime);
      const sorted = [...times].sort((a, b) => Number(a - b));
      expect(times).toEqual(sorted);
      expect(messages).toHaveLength(500);
      const byTime = new Map(many.map((message) => [message.timestamp, Buffer.from(message.data).toString('hex')]));
      expect(messages.every((message) => byTime.get(message.logTime) === Buffer.from(message.data).toString('hex'))).toBe(
        true,
      );
    } finally {
      await reader.close();
    }
  });
});

describe('openRosbag2Sqlite declared counts', () => {
  const single = (counts?: Record<string, number>, fileNames = ['bag_0.db3']): string =>
    buildMetadataYaml({
      version: 5,
      topics: TOPICS,
      files: fileNames.map((path, index) => ({ path, messages: index === 0 ? MESSAGES : [] })),
      topicMessageCounts: counts,
      withoutTopLevelKey: true,
    });

  it('reads counts from the last metadata row', async () => {
    const file = join(dir, 'declared.db3');
    const opening = single({ '/chatter': 0, '/empty': 0, '/odom': 0 }).replace(/message_count: 6/, 'message_count: 0');
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES, metadataRows: [opening, single()] });
    const reader = await openRosbag2Sqlite(file);
    try {
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([3, 1, 2]);
      await collectRawMessages(reader);
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('ignores a row listing several files', async () => {
    const file = join(dir, 'declared-split.db3');
    const row = single(undefined, ['bag_0.db3', 'bag_1.db3']);
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES, metadataRows: [row] });
    const reader = await openRosbag2Sqlite(file);
    try {
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([null, null, null]);
    } finally {
      await reader.close();
    }
  });

  it('ignores a row without messages', async () => {
    const file = join(dir, 'declared-opening.db3');
    const row = single({ '/chatter': 0, '/empty': 0, '/odom': 0 }).replace(/message_count: 6/, 'message_count: 0');
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES, metadataRows: [row] });
    const reader = await openRosbag2Sqlite(file);
    try {
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([null, null, null]);
    } finally {
      await reader.close();
    }
  });

  it('ignores an invalid row', async () => {
    const file = join(dir, 'declared-invalid.db3');
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES, metadataRows: ['version: [oops'] });
    const reader = await openRosbag2Sqlite(file);
    try {
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([null, null, null]);
      expect(await collectRawMessages(reader)).toHaveLength(6);
    } finally {
      await reader.close();
    }
  });

  it('reports rows missing against the metadata table', async () => {
    const file = join(dir, 'declared-short.db3');
    const row = single({ '/chatter': 5, '/empty': 1, '/odom': 2 });
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES, metadataRows: [row] });
    const reader = await openRosbag2Sqlite(file);
    try {
      await collectRawMessages(reader);
      const losses = reader.losses();
      expect(losses).toHaveLength(1);
      expect(losses[0]?.messages).toBe(2);
      expect(losses[0]?.file).toBe(file);
      expect(losses[0]?.reason).toContain('/chatter');
    } finally {
      await reader.close();
    }
  });
});

describe('openRosbag2Sqlite losses', () => {
  it('reports rows without a topic', async () => {
    const file = join(dir, 'orphans.db3');
    const orphans: MessageSpec[] = [
      { topic: '/chatter', timestamp: 50n, data: new Uint8Array(10), topicId: 99 },
      { topic: '/chatter', timestamp: 400n, data: new Uint8Array(7), topicId: 99 },
    ];
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: [...MESSAGES, ...orphans] });
    const reader = await openRosbag2Sqlite(file);
    try {
      const messages = await collectRawMessages(reader);
      expect(messages).toHaveLength(6);
      const [loss] = reader.losses();
      expect(reader.losses()).toHaveLength(1);
      expect(loss?.messages).toBe(2);
      expect(loss?.bytes).toBe(17);
      expect(loss?.startTime).toBe(50n);
      expect(loss?.endTime).toBe(400n);
      expect(loss?.reason).toContain('topic_id 99');
    } finally {
      await reader.close();
    }
  });
});

describe('openRosbag2Sqlite WAL files', () => {
  it('writes nothing beside a WAL file', async () => {
    const walDir = join(dir, 'wal');
    await mkdir(walDir);
    const file = join(walDir, 'wal.db3');
    writeRosbag2Db3(file, { schemaVersion: 4, topics: TOPICS, messages: MESSAGES, journalMode: 'wal' });
    const header = await readFile(file);
    expect(header[18]).toBe(2);
    const before = await readdir(walDir);

    const reader = await openRosbag2Sqlite(file);
    try {
      const iterator = reader.messages()[Symbol.asyncIterator]();
      await iterator.next();
      expect(await readdir(walDir)).toEqual(before);
      let count = 1;
      while (!(await iterator.next()).done) count += 1;
      expect(count).toBe(6);
    } finally {
      await reader.close();
    }
    expect(await readdir(walDir)).toEqual(before);
  });

  it('reads transactions still in the -wal file', async () => {
    const file = join(dir, 'live-wal.db3');
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES, journalMode: 'wal' });
    const writer = new Database(file);
    try {
      writer.pragma('wal_autocheckpoint = 0');
      writer.prepare('INSERT INTO messages (topic_id, timestamp, data) VALUES (1, 500, ?)').run(Buffer.from([9, 9]));
      expect(existsSync(`${file}-wal`)).toBe(true);
      const reader = await openRosbag2Sqlite(file);
      try {
        const messages = await collectRawMessages(reader);
        expect(messages).toHaveLength(7);
        expect(messages.at(-1)?.logTime).toBe(9_223_372_036_854_775_000n);
        expect(messages.some((message) => message.logTime === 500n)).toBe(true);
      } finally {
        await reader.close();
      }
    } finally {
      writer.close();
    }
  });
});

describe('openRosbag2Sqlite invalid input', () => {
  it('rejects a missing file', async () => {
    const file = join(dir, 'absent.db3');
    await expect(openRosbag2Sqlite(file)).rejects.toThrow(/absent\.db3 not found/);
  });

  it('rejects a file that is not SQLite', async () => {
    const file = join(dir, 'text.db3');
    await writeFile(file, 'not a database at all, just some text that is long enough to fill a header. '.repeat(3));
    const error = await openRosbag2Sqlite(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as RecordingError).path).toBe(file);
    expect((error as RecordingError).message).toContain('is not an SQLite database');
  });

  it('rejects an empty file', async () => {
    const file = join(dir, 'empty.db3');
    await writeFile(file, '');
    await expect(openRosbag2Sqlite(file)).rejects.toThrow(/empty\.db3 is not an SQLite database: it is empty/);
  });

  it('rejects SQLite without rosbag2 tables', async () => {
    const file = join(dir, 'other.db3');
    const db = new Database(file);
    db.exec('CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT)');
    db.close();
    const error = await openRosbag2Sqlite(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RecordingError);
    expect((error as RecordingError).message).toContain('table messages missing');
    expect((error as RecordingError).message).toContain(file);
  });

  it('rejects topics without required columns', async () => {
    const file = join(dir, 'columns.db3');
    const db = new Database(file);
    db.exec('CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT)');
    db.exec('CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER, timestamp INTEGER, data BLOB)');
    db.close();
    await expect(openRosbag2Sqlite(file)).rejects.toThrow(/table topics lacks column type, serialization_format/);
  });

  it('closes during iteration', async () => {
    const file = join(dir, 'close-early.db3');
    writeRosbag2Db3(file, { schemaVersion: 3, topics: TOPICS, messages: MESSAGES });
    const reader = await openRosbag2Sqlite(file);
    const iterator = reader.messages()[Symbol.asyncIterator]();
    await iterator.next();
    await expect(reader.close()).resolves.toBeUndefined();
    expect((await iterator.next()).done).toBe(true);
    expect(reader.losses()).toEqual([]);
  });
});

const data = findSharedData();
const bags = data === null ? null : join(data, 'bags');
const fixtures = bags === null ? null : join(bags, 'rosbag2_fixtures');

describe.skipIf(bags === null)('openRosbag2Sqlite on real bags (skipped: shared/data/bags not found)', () => {
  it('reads the husky split files', async () => {
    const expected = [7743, 7742, 1321];
    for (const [index, count] of expected.entries()) {
      const reader = await openRosbag2Sqlite(join(bags!, 'husky_test1', 'sqlite3', `husky_test1_${index}.db3`));
      try {
        expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([null, null, null]);
        expect(await collectRawMessages(reader)).toHaveLength(count);
      } finally {
        await reader.close();
      }
    }
  });

  it('reads rc_night_a with declared counts', async () => {
    const reader = await openRosbag2Sqlite(join(bags!, 'rc_night_a', 'sqlite3', 'rc_night_a_0.db3'));
    try {
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([108, 108, 11]);
      const messages = await collectRawMessages(reader);
      expect(countByTopic(messages)).toEqual({
        '/camera/front/image_raw/compressed': 108,
        '/rc/steering_servo': 108,
        '/rc/status': 11,
      });
      expect(messages[0]?.logTime).toBe(1478919599985415000n);
      expect(messages[0]?.channel.topic).toBe('/rc/steering_servo');
      expect(messages.at(-1)?.logTime).toBe(1478919610700000000n);
      expect(reader.losses()).toEqual([]);
    } finally {
      await reader.close();
    }
  });

  it('reads the WAL talker without writing', async () => {
    const talkerDir = join(fixtures!, 'rosbag2_py', 'test', 'resources', 'sqlite3', 'talker');
    const before = await readdir(talkerDir);
    const reader = await openRosbag2Sqlite(join(talkerDir, 'talker.db3'));
    try {
      expect(reader.channels().map((channel) => channel.definition?.encoding)).toEqual(['ros2msg', 'ros2msg', 'ros2msg']);
      expect(countByTopic(await collectRawMessages(reader))).toEqual({ '/topic': 10, '/rosout': 10 });
      expect(await readdir(talkerDir)).toEqual(before);
    } finally {
      await reader.close();
    }
    expect(await readdir(talkerDir)).toEqual(before);
    expect(before.some((name) => name.endsWith('-wal') || name.endsWith('-shm'))).toBe(false);
  });

  it('reads cdr_test definitions', async () => {
    const file = join(fixtures!, 'rosbag2_tests', 'resources', 'sqlite3', 'cdr_test', 'cdr_test_0.db3');
    const reader = await openRosbag2Sqlite(file);
    try {
      const basic = reader.channels().find((channel) => channel.topic === '/test_topic');
      expect(basic?.definition?.encoding).toBe('ros2msg');
      expect(basic?.definition?.text.startsWith('bool bool_value\n')).toBe(true);
      expect(reader.channels().map((channel) => channel.declaredCount)).toEqual([3, 4]);
      expect(await collectRawMessages(reader)).toHaveLength(7);
    } finally {
      await reader.close();
    }
  });

  it('reads the file encoding of wrong_rmw_test', async () => {
    const rmwDir = join(fixtures!, 'rosbag2_tests', 'resources', 'sqlite3', 'wrong_rmw_test');
    const before = await readdir(rmwDir);
    const reader = await openRosbag2Sqlite(join(rmwDir, 'wrong_rmw_test_0.db3'));
    try {
      expect(reader.channels().map((channel) => channel.encoding)).toEqual(['cdr', 'cdr']);
      expect(await collectRawMessages(reader)).toHaveLength(7);
    } finally {
      await reader.close();
    }
    expect(await readdir(rmwDir)).toEqual(before);
  });
});
