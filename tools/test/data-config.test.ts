import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_FLEET_CAMPAIGN, loadDataConfig } from '../src/loop/data-config.ts';

const REPO = join(import.meta.dirname, '..', '..');
const SOURCES = 'base:\n  - { path: a, mapping: m.yaml }\nfleet:\n  robots: 1\n  recordings:\n    - { path: b, mapping: m.yaml }\n';

describe('loadDataConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-data-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads the repository campaigns', async () => {
    const sim = await loadDataConfig(join(REPO, 'configs', 'data', 'sim.yaml'), dir, REPO);
    expect(sim.fleet.campaign.triggers[0]).toEqual({ kind: 'label-disagreement', thresholds: { steering: 3 } });
    const shared = await loadDataConfig(join(REPO, 'configs', 'data', 'shared-data.yaml'), dir, REPO);
    expect(shared.fleet.campaign.triggers[0]).toEqual({ kind: 'label-disagreement', thresholds: { steering: 5 } });
  });

  it('falls back to the default campaign', async () => {
    const file = join(dir, 'plain.yaml');
    await writeFile(file, SOURCES);
    expect((await loadDataConfig(file, dir, REPO)).fleet.campaign).toEqual(DEFAULT_FLEET_CAMPAIGN);
  });

  it('rejects a misspelt key', async () => {
    const file = join(dir, 'misspelt.yaml');
    await writeFile(file, SOURCES.replace('fleet:\n', 'fleet:\n  robotz: 3\n'));
    await expect(loadDataConfig(file, dir, REPO)).rejects.toThrow(/misspelt\.yaml: fleet\.robotz is not a known key \(known: robots, recordings, campaign\)/);
  });

  it('names an invalid campaign and its file', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, `${SOURCES}  campaign:\n    triggers:\n      - { kind: label-disagreement, thresholds: { steering: -1 } }\n`);
    await expect(loadDataConfig(file, dir, REPO)).rejects.toThrow(/fleet\.campaign of data config .*bad\.yaml: triggers\[0\]\.thresholds\.steering is invalid \(-1\)/);
  });
});
