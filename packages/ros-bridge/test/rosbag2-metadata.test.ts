import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSharedData } from '@fieldloop/contracts';
import { RecordingError } from '../src/recording/recording-reader.ts';
import {
  parseRosbag2Metadata,
  readRosbag2Metadata,
  rebuildRosbag2Metadata,
} from '../src/recording/rosbag2-metadata.ts';
import {
  buildMetadataYaml,
  makeTempDir,
  payloads,
  removeTempDir,
  writeRosbag2Db3,
  type MessageSpec,
  type MetadataSpec,
  type TopicSpec,
} from './support/rosbag2-bag-writer.ts';

const TOPICS: TopicSpec[] = [
  { name: '/chatter', type: 'std_msgs/msg/String', offeredQosProfiles: '- history: 1' },
  { name: '/odom', type: 'nav_msgs/msg/Odometry' },
];

const BODIES = payloads(5);
const FILE_0: MessageSpec[] = [
  { topic: '/chatter', timestamp: 1_000_000_000_000_000_100n, data: BODIES[0]! },
  { topic: '/odom', timestamp: 1_000_000_000_000_000_300n, data: BODIES[1]! },
];
const FILE_1: MessageSpec[] = [
  { topic: '/chatter', timestamp: 1_000_000_000_000_000_500n, data: BODIES[2]! },
  { topic: '/chatter', timestamp: 1_000_000_000_000_000_900n, data: BODIES[3]! },
  { topic: '/odom', timestamp: 1_000_000_000_000_000_700n, data: BODIES[4]! },
];

function spec(version: number, extra: Partial<MetadataSpec> = {}): MetadataSpec {
  return {
    version,
    topics: TOPICS,
    files: [
      { path: 'bag_0.db3', messages: FILE_0 },
      { path: 'bag_1.db3', messages: FILE_1 },
    ],
    ...extra,
  };
}

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir();
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('parseRosbag2Metadata versions', () => {
  for (let version = 1; version <= 9; version += 1) {
    it(`parses version ${version}`, () => {
      const text = buildMetadataYaml(
        spec(version, { compressionMode: 'MESSAGE', compressionFormat: 'zstd', customData: { operator: 'ada' } }),
      );
      const metadata = parseRosbag2Metadata(text, '/bags/x/metadata.yaml');
      expect(metadata.version).toBe(version);
      expect(metadata.storageIdentifier).toBe('sqlite3');
      expect(metadata.relativeFilePaths).toEqual(['bag_0.db3', 'bag_1.db3']);
      expect(metadata.messageCount).toBe(5);
      expect(metadata.startingTime).toBe(1_000_000_000_000_000_100n);
      expect(metadata.duration).toBe(800n);
      expect(metadata.topicsWithMessageCount.map((topic) => topic.messageCount)).toEqual([3, 2]);
      expect(metadata.topicsWithMessageCount.map((topic) => topic.topicMetadata.name)).toEqual(['/chatter', '/odom']);
      expect(metadata.topicsWithMessageCount[0]?.topicMetadata.serializationFormat).toBe('cdr');
      expect(metadata.compressionMode).toBe(version >= 3 ? 'MESSAGE' : '');
      expect(metadata.topicsWithMessageCount[0]?.topicMetadata.offeredQosProfiles).toBe(
        version >= 4 ? '- history: 1' : '',
      );
      expect(metadata.files.map((file) => file.messageCount)).toEqual(version >= 5 ? [2, 3] : []);
      expect(metadata.customData).toEqual(version >= 6 ? { operator: 'ada' } : {});
      expect(metadata.rosDistro).toBe(version >= 8 ? 'jazzy' : '');
      expect(metadata.metadataPath).toBe('/bags/x/metadata.yaml');
    });
  }

  it('reads per-file times', () => {
    const metadata = parseRosbag2Metadata(buildMetadataYaml(spec(5)), 'metadata.yaml');
    expect(metadata.files[1]).toEqual({
      path: 'bag_1.db3',
      startingTime: 1_000_000_000_000_000_500n,
      duration: 400n,
      messageCount: 3,
    });
  });

  it('keeps int64 times exact', () => {
    const text = buildMetadataYaml(spec(7, { files: [{ path: 'bag_0.db3', messages: [] }] })).replace(
      'nanoseconds_since_epoch: 0',
      'nanoseconds_since_epoch: 9223372036854775807',
    );
    expect(parseRosbag2Metadata(text, 'metadata.yaml').startingTime).toBe(9_223_372_036_854_775_807n);
  });

  it('ignores unknown keys', () => {
    const text = buildMetadataYaml(spec(5, { extraKeys: { ros_distro: 'humble', bag_size: 12, future: { a: 1 } } }));
    const metadata = parseRosbag2Metadata(text, 'metadata.yaml');
    expect(metadata.rosDistro).toBe('');
    expect(metadata.messageCount).toBe(5);
  });

  it('treats null custom_data as empty', () => {
    const metadata = parseRosbag2Metadata(buildMetadataYaml(spec(6, { customData: null })), 'metadata.yaml');
    expect(metadata.customData).toEqual({});
  });

  it('reads versions above 9 by the version 9 rules', () => {
    const metadata = parseRosbag2Metadata(buildMetadataYaml(spec(10)), 'metadata.yaml');
    expect(metadata.version).toBe(10);
    expect(metadata.rosDistro).toBe('jazzy');
  });
});

describe('parseRosbag2Metadata errors', () => {
  const parseError = (text: string): RecordingError => {
    try {
      parseRosbag2Metadata(text, '/bags/x/metadata.yaml');
    } catch (error) {
      if (error instanceof RecordingError) return error;
      throw error;
    }
    throw new Error('expected a RecordingError');
  };

  it('names a missing files key', () => {
    const text = buildMetadataYaml(spec(5)).replace(/\n {2}files:\n(?: {4}.*\n)+/, '\n');
    const error = parseError(text);
    expect(error.path).toBe('/bags/x/metadata.yaml');
    expect(error.message).toContain("missing required key 'rosbag2_bagfile_information.files'");
    expect(error.message).toContain('/bags/x/metadata.yaml');
    expect(error.message).toContain('version 5');
  });

  it('names a missing type_description_hash', () => {
    const text = buildMetadataYaml(spec(7)).replace(/\n +type_description_hash: ""/, '');
    expect(parseError(text).message).toContain(
      "'rosbag2_bagfile_information.topics_with_message_count[0].topic_metadata.type_description_hash'",
    );
  });

  it('names a missing offered_qos_profiles', () => {
    const text = buildMetadataYaml(spec(4)).replace(/\n +offered_qos_profiles: .*/, '');
    expect(parseError(text).message).toContain('topics_with_message_count[0].topic_metadata.offered_qos_profiles');
  });

  it('accepts version 3 without offered_qos_profiles', () => {
    const text = buildMetadataYaml(spec(3));
    expect(text).not.toContain('offered_qos_profiles');
    expect(parseRosbag2Metadata(text, 'metadata.yaml').version).toBe(3);
  });

  it('names a missing ros_distro', () => {
    const text = buildMetadataYaml(spec(8)).replace(/\n +ros_distro: jazzy/, '');
    expect(parseError(text).message).toContain("'rosbag2_bagfile_information.ros_distro'");
  });

  it('names a missing nested nanoseconds', () => {
    const text = buildMetadataYaml(spec(4)).replace(/nanoseconds: 800/, 'seconds: 0');
    expect(parseError(text).message).toContain("'rosbag2_bagfile_information.duration.nanoseconds'");
  });

  it('rejects a missing top-level key', () => {
    const text = buildMetadataYaml(spec(5, { withoutTopLevelKey: true }));
    expect(parseError(text).message).toContain("missing required key 'rosbag2_bagfile_information'");
  });

  it('rejects invalid YAML', () => {
    expect(parseError('rosbag2_bagfile_information: [\n').message).toContain('invalid YAML');
  });

  it('rejects a non-integer count', () => {
    const text = buildMetadataYaml(spec(5)).replace('message_count: 5', 'message_count: many');
    expect(parseError(text).message).toContain("'rosbag2_bagfile_information.message_count' must be an integer");
  });

  it('rejects a version below 1', () => {
    const text = buildMetadataYaml(spec(5)).replace('version: 5', 'version: 0');
    expect(parseError(text).message).toContain('must be a metadata version from 1 to 2147483647');
  });

  it('suggests rebuilding', () => {
    const text = buildMetadataYaml(spec(5)).replace('storage_identifier: sqlite3', 'storage: sqlite3');
    expect(parseError(text).message).toContain('delete metadata.yaml');
  });
});

describe('readRosbag2Metadata', () => {
  it('reads metadata.yaml of a directory', async () => {
    const bag = join(dir, 'read');
    await mkdir(bag);
    await writeFile(join(bag, 'metadata.yaml'), buildMetadataYaml(spec(5)));
    const metadata = await readRosbag2Metadata(bag);
    expect(metadata.metadataPath).toBe(join(bag, 'metadata.yaml'));
    expect(metadata.files).toHaveLength(2);
  });

  it('rejects a directory without metadata.yaml', async () => {
    const bag = join(dir, 'no-metadata');
    await mkdir(bag);
    await expect(readRosbag2Metadata(bag)).rejects.toThrow(/no-metadata\/metadata\.yaml not found/);
  });
});

describe('rebuildRosbag2Metadata', () => {
  it('rebuilds from split files', async () => {
    const bag = join(dir, 'rebuild');
    await mkdir(bag);
    const third: MessageSpec[] = [{ topic: '/odom', timestamp: 1_000_000_000_000_001_000n, data: BODIES[0]! }];
    writeRosbag2Db3(join(bag, 'run_0.db3'), { schemaVersion: 3, topics: TOPICS, messages: FILE_0, rosDistro: 'iron' });
    writeRosbag2Db3(join(bag, 'run_2.db3'), { schemaVersion: 3, topics: TOPICS, messages: FILE_1 });
    writeRosbag2Db3(join(bag, 'run_10.db3'), { schemaVersion: 3, topics: TOPICS, messages: third });
    await writeFile(join(bag, 'notes.txt'), 'not a storage file');

    const metadata = await rebuildRosbag2Metadata(bag);
    expect(metadata.relativeFilePaths).toEqual(['run_0.db3', 'run_2.db3', 'run_10.db3']);
    expect(metadata.storageIdentifier).toBe('sqlite3');
    expect(metadata.metadataPath).toBeNull();
    expect(metadata.messageCount).toBe(6);
    expect(metadata.startingTime).toBe(1_000_000_000_000_000_100n);
    expect(metadata.duration).toBe(900n);
    expect(metadata.topicsWithMessageCount.map((topic) => [topic.topicMetadata.name, topic.messageCount])).toEqual([
      ['/chatter', 3],
      ['/odom', 3],
    ]);
    expect(metadata.topicsWithMessageCount[0]?.topicMetadata.offeredQosProfiles).toBe('- history: 1');
    expect(metadata.files.map((file) => file.messageCount)).toEqual([2, 3, 1]);
    expect(metadata.files[1]?.startingTime).toBe(1_000_000_000_000_000_500n);
    expect(metadata.files[1]?.duration).toBe(400n);
    expect(metadata.rosDistro).toBe('iron');
  });

  it('lists topics without messages', async () => {
    const bag = join(dir, 'rebuild-empty-topic');
    await mkdir(bag);
    const topics = [...TOPICS, { name: '/idle', type: 'std_msgs/msg/Empty' }];
    writeRosbag2Db3(join(bag, 'bag_0.db3'), { schemaVersion: 1, topics, messages: FILE_0 });
    const metadata = await rebuildRosbag2Metadata(bag);
    expect(metadata.topicsWithMessageCount.map((topic) => topic.messageCount)).toEqual([1, 1, 0]);
  });

  it('gives zero times for a file without messages', async () => {
    const bag = join(dir, 'rebuild-empty-file');
    await mkdir(bag);
    writeRosbag2Db3(join(bag, 'bag_0.db3'), { schemaVersion: 2, topics: TOPICS, messages: [] });
    const metadata = await rebuildRosbag2Metadata(bag);
    expect(metadata.files).toEqual([{ path: 'bag_0.db3', startingTime: 0n, duration: 0n, messageCount: 0 }]);
    expect(metadata.startingTime).toBe(0n);
  });

  it('rejects a directory without storage files', async () => {
    const bag = join(dir, 'rebuild-nothing');
    await mkdir(bag);
    await writeFile(join(bag, 'bag.db3'), '');
    await expect(rebuildRosbag2Metadata(bag)).rejects.toThrow(/no metadata\.yaml and no storage files named/);
  });

  it('rejects files of two bags', async () => {
    const bag = join(dir, 'rebuild-two-bags');
    await mkdir(bag);
    writeRosbag2Db3(join(bag, 'a_0.db3'), { schemaVersion: 2, topics: TOPICS, messages: FILE_0 });
    writeRosbag2Db3(join(bag, 'b_0.db3'), { schemaVersion: 2, topics: TOPICS, messages: FILE_1 });
    await expect(rebuildRosbag2Metadata(bag)).rejects.toThrow(/more than one bag: a_<N>\.db3, b_<N>\.db3/);
  });

  it('needs a reader for MCAP files', async () => {
    const bag = join(dir, 'rebuild-mcap');
    await mkdir(bag);
    await writeFile(join(bag, 'bag_0.mcap'), 'placeholder');
    await expect(rebuildRosbag2Metadata(bag)).rejects.toThrow(/without a reader for its format; pass openFile/);
  });
});

const data = findSharedData();
const bags = data === null ? null : join(data, 'bags');

describe.skipIf(bags === null)('rosbag2 metadata of real bags (skipped: shared/data/bags not found)', () => {
  const fixtures = (...parts: string[]): string => join(bags!, 'rosbag2_fixtures', ...parts);

  it('reads version 4 of talker', async () => {
    const metadata = await readRosbag2Metadata(fixtures('rosbag2_py', 'test', 'resources', 'sqlite3', 'talker'));
    expect(metadata.version).toBe(4);
    expect(metadata.relativeFilePaths).toEqual(['talker.db3']);
    expect(metadata.messageCount).toBe(20);
    expect(metadata.duration).toBe(4531096768n);
    expect(metadata.startingTime).toBe(1585866235112411371n);
    expect(metadata.topicsWithMessageCount.map((topic) => topic.messageCount)).toEqual([10, 10, 0]);
    expect(metadata.files).toEqual([]);
  });

  it('reads version 5 of husky_test1', async () => {
    const metadata = await readRosbag2Metadata(join(bags!, 'husky_test1', 'sqlite3'));
    expect(metadata.version).toBe(5);
    expect(metadata.messageCount).toBe(16806);
    expect(metadata.startingTime).toBe(1432235498025043042n);
    expect(metadata.duration).toBe(395307116140n);
    expect(metadata.files.map((file) => file.messageCount)).toEqual([7743, 7742, 1321]);
    expect(metadata.files[1]?.startingTime).toBe(1432235680137640822n);
    expect(metadata.topicsWithMessageCount.map((topic) => topic.messageCount)).toEqual([11865, 3952, 989]);
    expect(metadata.rosDistro).toBe('');
  });

  it('reads version 5 of rc_night_a', async () => {
    const metadata = await readRosbag2Metadata(join(bags!, 'rc_night_a', 'sqlite3'));
    expect(metadata.topicsWithMessageCount.map((topic) => topic.messageCount)).toEqual([108, 108, 11]);
    expect(metadata.topicsWithMessageCount[0]?.topicMetadata.offeredQosProfiles).toContain('reliability: 2');
  });

  it('reads version 6 of the MCAP wrong_rmw_test', async () => {
    const metadata = await readRosbag2Metadata(fixtures('rosbag2_tests', 'resources', 'mcap', 'wrong_rmw_test'));
    expect(metadata.version).toBe(6);
    expect(metadata.storageIdentifier).toBe('mcap');
    expect(metadata.customData).toEqual({});
    expect(metadata.topicsWithMessageCount.map((topic) => topic.topicMetadata.serializationFormat)).toEqual([
      'wrong_format',
      'wrong_format',
    ]);
  });

  it('reads version 7 of cdr_test', async () => {
    const metadata = await readRosbag2Metadata(fixtures('rosbag2_tests', 'resources', 'sqlite3', 'cdr_test'));
    expect(metadata.version).toBe(7);
    expect(metadata.messageCount).toBe(7);
    expect(metadata.duration).toBe(151137181n);
    expect(metadata.topicsWithMessageCount.map((topic) => topic.topicMetadata.typeDescriptionHash)).toEqual(['', '']);
  });

  it('rebuilds reindex multiple_files', async () => {
    const metadata = await rebuildRosbag2Metadata(
      fixtures('rosbag2_py', 'test', 'resources', 'sqlite3', 'reindex_test_bags', 'multiple_files'),
    );
    expect(metadata.relativeFilePaths).toEqual(['multiple_files_0.db3', 'multiple_files_1.db3', 'multiple_files_2.db3']);
    expect(metadata.files.map((file) => file.messageCount)).toEqual([1324, 1324, 529]);
    expect(metadata.messageCount).toBe(3177);
    expect(metadata.topicsWithMessageCount.map((topic) => topic.topicMetadata.name)).toEqual(['/chatter']);
    expect(metadata.startingTime).toBe(1616653333034080451n);
    expect(metadata.duration).toBe(6352112906n);
  });
});
