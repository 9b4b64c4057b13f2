import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatasetStore } from '@fieldloop/dataset';
import type { SampleRecord } from '@fieldloop/contracts';
import { runIngest, type RunIngestOptions } from '../src/ingest/run-ingest.ts';
import { parseMapping } from '../src/mapping/load-mapping.ts';
import type { Mapping } from '../src/mapping/mapping.ts';
import { buildDrive, DRIVE_TOPICS, writeDriveMcap, writeDriveSqlite, type Drive } from './support/drive-recording.ts';
import { makeTempDir, removeTempDir } from './support/rosbag2-bag-writer.ts';

const FRAMES = 40;

function driveMapping(overrides: Record<string, unknown> = {}): Mapping {
  return parseMapping(
    {
      image: { topic: DRIVE_TOPICS.image, width: 8, height: 6 },
      labels: { steering: { topic: DRIVE_TOPICS.steering, field: 'data', tolerance_ms: 45, transform: { linear: { offset: -90 } } } },
      tags: ['synthetic', { topic: DRIVE_TOPICS.status, field: 'data', transform: { regex: '^run:(.*)$' } }],
      split: { by: 'segment', seconds: 1 },
      ...overrides,
    },
    'drive.yaml',
  );
}

function options(paths: string[], storeDir: string | null, mapping: Mapping | null, extra: Partial<RunIngestOptions> = {}): RunIngestOptions {
  return { paths, storeDir, mapping, allowPartial: false, msgPaths: [], note: 'test', ...extra };
}

async function allSamples(storeDir: string, version: number): Promise<Array<SampleRecord & { split: string }>> {
  const store = await DatasetStore.open(storeDir, { readOnly: true });
  try {
    const out: Array<SampleRecord & { split: string }> = [];
    for (const sample of store.samples(version)) out.push(sample as SampleRecord & { split: string });
    return out;
  } finally {
    await store.close();
  }
}

/** Lists every file under a directory with its size, to prove a failed ingest changed nothing. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.name.endsWith('-shm') && !entry.name.endsWith('-wal'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

describe('runIngest on a self-built drive', () => {
  let dir: string;
  let drive: Drive;
  let mcapFile: string;
  let sqliteDir: string;

  beforeAll(async () => {
    dir = await makeTempDir('fieldloop-ingest-');
    drive = await buildDrive(FRAMES);
    mcapFile = join(dir, 'drive.mcap');
    sqliteDir = join(dir, 'drive-sqlite');
    await writeDriveMcap(mcapFile, drive);
    await writeDriveSqlite(sqliteDir, 'drive', drive, 2);
    return () => removeTempDir(dir);
  });

  let storeDir: string;
  afterEach(async () => {
    if (storeDir) await removeTempDir(storeDir);
  });

  it('reports topics without a mapping and writes nothing', async () => {
    const result = await runIngest(options([mcapFile, sqliteDir], null, null));
    expect(result.problems).toEqual([]);
    expect(result.snapshot).toBeNull();
    for (const source of result.sources) {
      const counts = Object.fromEntries(source.topics.map((t) => [t.topic, t.messages]));
      expect(counts).toEqual({ [DRIVE_TOPICS.image]: FRAMES, [DRIVE_TOPICS.steering]: FRAMES, [DRIVE_TOPICS.status]: FRAMES / 10 });
      expect(source.topics.every((t) => t.decodeErrors === 0)).toBe(true);
    }
    expect(result.sources[1]?.files).toHaveLength(2);
  });

  it('matches each frame to its own jittered steering value', async () => {
    storeDir = await makeTempDir('fieldloop-store-');
    const result = await runIngest(options([mcapFile], storeDir, driveMapping()));
    expect(result.problems).toEqual([]);
    expect(result.snapshot?.stats.samples).toBe(FRAMES);
    const samples = (await allSamples(storeDir, 1)).sort((a, b) => Number(BigInt(a.source.logTimeNs ?? 0) - BigInt(b.source.logTimeNs ?? 0)));
    expect(samples.map((s) => s.labels.steering)).toEqual(drive.steering.map((v) => v - 90));
    expect(samples[0]?.tags).toEqual(['lap-0', 'synthetic']);
    expect(samples[FRAMES - 1]?.tags).toEqual(['lap-3', 'synthetic']);
    expect(samples.every((s) => s.width === 8 && s.height === 6)).toBe(true);
    // Neighbouring frames in one 1-second segment share a split key and so a split.
    expect(new Set(samples.map((s) => s.splitKey)).size).toBe(4);
    const bySegment = new Map<string, Set<string>>();
    for (const s of samples) bySegment.set(s.splitKey, (bySegment.get(s.splitKey) ?? new Set()).add(s.split));
    expect([...bySegment.values()].every((splits) => splits.size === 1)).toBe(true);
  });

  it('gives identical samples from MCAP and split SQLite forms', async () => {
    storeDir = await makeTempDir('fieldloop-store-');
    const fromMcap = await runIngest(options([mcapFile], storeDir, driveMapping()));
    const fromSqlite = await runIngest(options([sqliteDir], storeDir, driveMapping()));
    expect(fromSqlite.problems).toEqual([]);
    expect(fromMcap.snapshot?.stats.samples).toBe(FRAMES);
    expect(fromSqlite.snapshot?.version).toBe(2);
    expect(fromSqlite.snapshot?.added).toBe(0);
    expect(fromSqlite.snapshot?.stats.samples).toBe(FRAMES);
    const first = await allSamples(storeDir, 1);
    const second = await allSamples(storeDir, 2);
    expect(second.map((s) => `${s.id}:${s.split}`).sort()).toEqual(first.map((s) => `${s.id}:${s.split}`).sort());
  });

  it('names a mapped topic the recording lacks', async () => {
    storeDir = await makeTempDir('fieldloop-store-');
    const mapping = driveMapping({ labels: { steering: { topic: '/steering_cmd', field: 'data' } } });
    await expect(runIngest(options([mcapFile], storeDir, mapping))).rejects.toThrow(/names \/steering_cmd, which .*drive\.mcap does not contain; its topics are: .*\/steering \(std_msgs\/msg\/Float32\)/);
  });

  it('names recordings in a folder that is not a bag', async () => {
    const folder = join(dir, 'recordings');
    await mkdir(folder);
    await copyFile(mcapFile, join(folder, 'drive-copy.mcap'));
    await expect(runIngest(options([folder], null, null))).rejects.toThrow(/contains recordings \(.*drive-copy\.mcap\) but is neither a rosbag2 bag directory/);
  });

  it('reads a bag directory of symbolic links', async () => {
    const folder = join(dir, 'linked-bag');
    await mkdir(folder);
    await symlink(mcapFile, join(folder, 'linked-bag_0.mcap'));
    const result = await runIngest(options([folder], null, null));
    expect(result.problems).toEqual([]);
    expect(result.sources[0]?.topics.map((report) => report.topic)).toContain(DRIVE_TOPICS.image);
  });

  it('names a label field the messages lack', async () => {
    const mapping = driveMapping({ labels: { steering: { topic: DRIVE_TOPICS.steering, field: 'dta' } } });
    storeDir = join(dir, 'store-missing-field');
    await expect(runIngest(options([mcapFile], storeDir, mapping))).rejects.toThrow(
      /label steering from field dta of .*: the message has no field "dta"; its fields are data\. Fix the field in the mapping/,
    );
  });

  it('names a tag field the messages lack', async () => {
    const mapping = driveMapping({ tags: [{ topic: DRIVE_TOPICS.status, field: 'dta' }] });
    storeDir = join(dir, 'store-missing-tag-field');
    await expect(runIngest(options([mcapFile], storeDir, mapping))).rejects.toThrow(
      /tag from field dta of .*: the message has no field "dta"; its fields are data\. Fix the field in the mapping/,
    );
  });

  it('removes a store it created for a failed ingest', async () => {
    storeDir = await makeTempDir('fieldloop-store-parent-');
    const fresh = join(storeDir, 'new-store');
    const mapping = driveMapping({ labels: { steering: { topic: '/steering_cmd', field: 'data' } } });
    await expect(runIngest(options([mcapFile], fresh, mapping))).rejects.toThrow(/names \/steering_cmd/);
    expect(existsSync(fresh)).toBe(false);
    const whole = await readFile(mcapFile);
    const cut = join(dir, 'cut-fresh.mcap');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const strict = await runIngest(options([cut], fresh, driveMapping()));
    expect(strict.snapshot).toBeNull();
    expect(existsSync(fresh)).toBe(false);
  });

  it('leaves the store unchanged when a later path fails', async () => {
    storeDir = await makeTempDir('fieldloop-store-');
    await runIngest(options([mcapFile], storeDir, driveMapping()));
    const before = await listTree(storeDir);
    const beforeIndex = await readFile(join(storeDir, 'index.sqlite'));
    const notABag = join(dir, 'notes.txt');
    await writeFile(notABag, 'just text');
    await expect(runIngest(options([sqliteDir, notABag], storeDir, driveMapping()))).rejects.toThrow(/notes\.txt is not an MCAP, rosbag2 SQLite3 or ROS 1 bag file/);
    expect(await listTree(storeDir)).toEqual(before);
    expect((await readFile(join(storeDir, 'index.sqlite'))).equals(beforeIndex)).toBe(true);
  });

  it('rejects a truncated recording unless partial reads are allowed', async () => {
    storeDir = await makeTempDir('fieldloop-store-');
    const whole = await readFile(mcapFile);
    const cut = join(dir, 'cut.mcap');
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const strict = await runIngest(options([cut], storeDir, driveMapping()));
    expect(strict.snapshot).toBeNull();
    expect(strict.problems[0]).toMatch(/cut\.mcap was not read whole: .* Pass --allow-partial/);
    expect(strict.problems.at(-1)).toMatch(/no snapshot was written; the store is unchanged/);
    expect(strict.sources[0]?.losses).toHaveLength(1);
    const partial = await runIngest(options([cut], storeDir, driveMapping(), { allowPartial: true }));
    expect(partial.problems).toEqual([]);
    expect(partial.snapshot?.version).toBe(1);
    expect(partial.snapshot?.stats.samples).toBeGreaterThan(0);
    expect(partial.snapshot?.stats.samples).toBeLessThan(FRAMES);
    expect(partial.sources[0]?.losses[0]?.bytes).toBeGreaterThan(0);
  });

  it('drops frames without a label when all labels are required', async () => {
    storeDir = await makeTempDir('fieldloop-store-');
    const strictTolerance = driveMapping({
      labels: { steering: { topic: DRIVE_TOPICS.steering, field: 'data', tolerance_ms: 10 } },
      require_all_labels: true,
    });
    const result = await runIngest(options([mcapFile], storeDir, strictTolerance));
    const withinTen = drive.jitterMs.filter((j) => Math.abs(j) <= 10).length;
    expect(result.snapshot?.stats.samples).toBe(withinTen);
    expect(result.sources[0]?.skipped).toBe(FRAMES - withinTen);
    expect(result.sources[0]?.unlabelled.steering).toBe(FRAMES - withinTen);
  });
});
