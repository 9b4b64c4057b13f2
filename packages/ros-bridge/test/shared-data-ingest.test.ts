import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSharedData } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { runIngest, type RunIngestOptions } from '../src/ingest/run-ingest.ts';
import { loadMapping } from '../src/mapping/load-mapping.ts';
import { parseCsv } from '../src/ingest/label-file.ts';
import { makeTempDir, removeTempDir } from './support/rosbag2-bag-writer.ts';

// End-to-end checks of `fieldloop ingest` on the real recordings beside the repository.
const data = findSharedData();
const bags = data ? join(data, 'bags') : '';
const fixtures = join(bags, 'rosbag2_fixtures');
const MAPPING = join(__dirname, '..', '..', '..', 'configs', 'mappings', 'rc-steering.yaml');

function inspect(paths: string[], extra: Partial<RunIngestOptions> = {}): ReturnType<typeof runIngest> {
  return runIngest({ paths, storeDir: null, mapping: null, allowPartial: false, msgPaths: [], note: 'test', ...extra });
}

function countsOf(result: Awaited<ReturnType<typeof runIngest>>, index: number): Record<string, number> {
  return Object.fromEntries((result.sources[index]?.topics ?? []).map((topic) => [topic.topic, topic.messages]));
}

describe.skipIf(!data)('ingest on shared/data (skipped: shared/data not found beside the repository)', () => {
  let storeDir: string;
  beforeAll(async () => {
    storeDir = await makeTempDir('fieldloop-shared-store-');
  });
  afterAll(() => removeTempDir(storeDir));

  it('reads the Husky drive alike in ROS 1, MCAP and split SQLite form', async () => {
    const husky = join(bags, 'husky_test1');
    const result = await inspect([join(husky, 'ros1', 'test1.bag'), join(husky, 'husky_test1.mcap'), join(husky, 'sqlite3')]);
    expect(result.problems).toEqual([]);
    const expected = { '/imu/data': 11_865, '/husky_velocity_controller/odom': 3_952, '/fix': 989 };
    for (const index of [0, 1, 2]) expect(countsOf(result, index)).toEqual(expected);
    expect(result.sources.map((s) => s.format)).toEqual(['ros1-bag', 'mcap', 'rosbag2-sqlite3']);
    expect(result.sources[2]?.files).toHaveLength(3);
    const firstTimes = result.sources.map((s) => s.topics.find((t) => t.topic === '/imu/data')?.firstLogTimeNs);
    expect(new Set(firstTimes)).toEqual(new Set(['1432235498025043042']));
  });

  it('gives identical RC-car samples from MCAP and SQLite, matched by time', async () => {
    const mapping = await loadMapping(MAPPING);
    const rc = join(bags, 'rc_night_a');
    const fromMcap = await runIngest({ paths: [join(rc, 'rc_night_a.mcap')], storeDir, mapping, allowPartial: false, msgPaths: [], note: 'mcap' });
    const fromSqlite = await runIngest({ paths: [join(rc, 'sqlite3')], storeDir, mapping, allowPartial: false, msgPaths: [], note: 'sqlite' });
    expect(fromMcap.problems).toEqual([]);
    expect(fromSqlite.problems).toEqual([]);
    expect(fromMcap.snapshot?.stats.samples).toBe(108);
    expect(fromSqlite.snapshot?.added).toBe(0);
    expect(fromSqlite.snapshot?.stats.samples).toBe(108);

    const truth = parseCsv(await readFile(join(rc, 'frames_truth.csv'), 'utf8'), 'frames_truth.csv');
    const header = truth.shift() as string[];
    const column = (name: string) => header.indexOf(name);
    const expected = new Map(truth.map((row) => [row[column('image_log_time_ns')], { servo: Number(row[column('servo')]), sha: row[column('png_sha256')] }]));

    const store = await DatasetStore.open(storeDir, { readOnly: true });
    try {
      const version = fromMcap.snapshot?.version as number;
      const samples = [...store.samples(version)];
      expect(samples).toHaveLength(108);
      for (const sample of samples) {
        const want = expected.get(sample.source.logTimeNs as string);
        expect(want, `frame at ${sample.source.logTimeNs}`).toBeDefined();
        expect(sample.labels.steering).toBe(want?.servo);
        expect(sample.imageSha256).toBe(want?.sha);
        expect(sample.tags).toEqual(['night-path']);
      }
      const sqliteIds = [...store.samples(fromSqlite.snapshot?.version as number)].map((s) => s.id).sort();
      expect(sqliteIds).toEqual(samples.map((s) => s.id).sort());
      const lineage = store.lineage(samples[0]?.id as string);
      expect(lineage.length).toBe(2);
    } finally {
      await store.close();
    }
  });

  it('decodes every topic of the type-coverage bag', async () => {
    const result = await inspect([join(bags, 'typecoverage', 'test_bag_mcap')]);
    expect(result.problems).toEqual([]);
    const topics = result.sources[0]?.topics ?? [];
    expect(topics).toHaveLength(94);
    expect(topics.every((t) => t.messages === 2 && t.decodeErrors === 0)).toBe(true);
  });

  it('reads the rosbag2 talker and cdr_test bags in both storage formats', async () => {
    const result = await inspect([
      join(fixtures, 'rosbag2_py/test/resources/mcap/talker'),
      join(fixtures, 'rosbag2_py/test/resources/sqlite3/talker'),
      join(fixtures, 'rosbag2_tests/resources/mcap/cdr_test'),
      join(fixtures, 'rosbag2_tests/resources/sqlite3/cdr_test'),
      join(fixtures, 'rosbag2_py/test/resources/mcap/reindex_test_bags/multiple_files'),
      join(fixtures, 'rosbag2_py/test/resources/sqlite3/reindex_test_bags/multiple_files'),
    ]);
    expect(result.problems).toEqual([]);
    expect(countsOf(result, 0)).toMatchObject({ '/topic': 10, '/rosout': 10 });
    expect(countsOf(result, 1)).toMatchObject({ '/topic': 10, '/rosout': 10 });
    expect(countsOf(result, 2)).toEqual({ '/test_topic': 3, '/array_topic': 4 });
    expect(countsOf(result, 3)).toEqual({ '/test_topic': 3, '/array_topic': 4 });
    expect(countsOf(result, 4)).toEqual({ '/chatter': 3_177 });
    expect(countsOf(result, 5)).toEqual({ '/chatter': 3_177 });
  });

  it('keeps what the truncated MCAP holds and reports the loss', async () => {
    const file = join(bags, 'truncated', 'husky_test1_truncated.mcap');
    const strict = await inspect([file]);
    expect(strict.problems).toHaveLength(1);
    expect(strict.problems[0]).toMatch(/husky_test1_truncated\.mcap was not read whole: File ends at byte 922,060 inside chunk 5/);
    const loss = strict.sources[0]?.losses[0];
    expect(loss?.bytes).toBeGreaterThan(0);
    expect(loss?.startTimeNs).toBe('1432235737576619461');
    expect(countsOf(strict, 0)).toEqual({ '/imu/data': 7_191, '/husky_velocity_controller/odom': 2_394, '/fix': 599 });
    const partial = await inspect([file], { allowPartial: true });
    expect(partial.problems).toEqual([]);
    expect(partial.sources[0]?.losses).toHaveLength(1);
  });

  it('names the wrong serialization format of wrong_rmw_test', async () => {
    for (const storage of ['mcap', 'sqlite3']) {
      const result = await inspect([join(fixtures, `rosbag2_tests/resources/${storage}/wrong_rmw_test`)]);
      expect(result.problems.length, storage).toBe(2);
      for (const problem of result.problems) {
        expect(problem).toMatch(/Unsupported message encoding "wrong_format" on topic \/(test|array)_topic/);
        expect(problem).toMatch(/set serialization_format to cdr in metadata\.yaml/);
      }
    }
  });
});
