import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMapping, runIngest } from '@fieldloop/ros-bridge';
import { DatasetStore } from '@fieldloop/dataset';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { generateSimData } from '../src/sim/generate-sim-data.ts';
import { steeringFor } from '../src/sim/render-road.ts';
import { SIGN_CLASSES } from '../src/sim/render-sign.ts';

const CONFIGS = join(import.meta.dirname, '..', '..', 'configs', 'mappings');

describe('generateSimData', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-sim-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes the same bytes for the same seed', async () => {
    const first = await generateSimData({ out: join(dir, 'a'), drives: 1, frames: 12, signsPerClass: 1, seed: 7 });
    const second = await generateSimData({ out: join(dir, 'b'), drives: 1, frames: 12, signsPerClass: 1, seed: 7 });
    const bytes = (path: string) => readFile(join(path, 'drive_000_0.mcap'));
    expect((await bytes(first.drives[0] as string)).equals(await bytes(second.drives[0] as string))).toBe(true);
    const other = await generateSimData({ out: join(dir, 'c'), drives: 1, frames: 12, signsPerClass: 1, seed: 8 });
    expect((await bytes(other.drives[0] as string)).equals(await bytes(first.drives[0] as string))).toBe(false);
  });

  it('ingests with the shipped mappings', async () => {
    const data = await generateSimData({ out: join(dir, 'ingest'), drives: 2, frames: 30, signsPerClass: 2, seed: 3 });
    const storeDir = join(dir, 'store');
    const drives = await runIngest({
      paths: data.drives,
      storeDir,
      mapping: await loadMapping(join(CONFIGS, 'sim-drive.yaml')),
      allowPartial: false,
      msgPaths: [],
      note: 'sim drives',
    });
    expect(drives.problems).toEqual([]);
    expect(drives.snapshot?.stats.samples).toBe(60);
    expect(drives.snapshot?.stats.perTag).toMatchObject({ day: 30, night: 30, synthetic: 60 });
    const signs = await runIngest({
      paths: [data.signs],
      storeDir,
      mapping: await loadMapping(join(CONFIGS, 'sim-signs.yaml')),
      allowPartial: false,
      msgPaths: [],
      note: 'sim signs',
    });
    expect(signs.problems).toEqual([]);
    expect(signs.snapshot?.stats.samples).toBe(60 + 2 * SIGN_CLASSES.length);
    expect(Object.keys(signs.snapshot?.stats.perLabel.sign ?? {}).sort()).toEqual([...SIGN_CLASSES].sort());
    const store = await DatasetStore.open(storeDir, { readOnly: true });
    try {
      const steering = [...store.samples(2)].flatMap((s) => (typeof s.labels.steering === 'number' ? [s.labels.steering] : []));
      expect(steering).toHaveLength(60);
      expect(steering.every((value) => value >= -30 && value <= 30)).toBe(true);
      expect(new Set(steering.map((v) => Math.round(v))).size).toBeGreaterThan(5);
    } finally {
      await store.close();
    }
  });
});

describe('steeringFor', () => {
  it('turns into the bend and toward the lane centre', () => {
    expect(steeringFor({ curvature: 0.5, offset: 0 })).toBeGreaterThan(0);
    expect(steeringFor({ curvature: -0.5, offset: 0 })).toBeLessThan(0);
    expect(steeringFor({ curvature: 0, offset: 0.3 })).toBeLessThan(0);
    expect(steeringFor({ curvature: 5, offset: -5 })).toBe(30);
  });
});
