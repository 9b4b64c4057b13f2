import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@fieldloop/contracts';
import { findSharedData } from '@fieldloop/contracts';
import type { LoopReport } from '../src/report/loop-report.ts';
import { generateSimData } from '../src/sim/generate-sim-data.ts';
import { runLoop } from '../src/loop/run-loop.ts';
import { loadProjectConfig } from '../src/project/project-config.ts';
import { projectPaths } from '../src/project/project-paths.ts';
import { readReleases } from '../src/project/release-registry.ts';

const REPO = join(import.meta.dirname, '..', '..');
import { CHROMIUM, loadInChromium } from './support/headless-chromium.ts';

/** Collects warnings and errors, so a test can show them when it fails. */
function testLogger(): Logger & { problems: string[] } {
  const problems: string[] = [];
  const note = (level: string) => (fields: Record<string, unknown>, message: string) => {
    problems.push(`${level}: ${message} ${JSON.stringify(fields)}`);
  };
  return { debug() {}, info() {}, warn: note('warn'), error: note('error'), problems };
}

const cli = (log: Logger) => ({ log, progress: () => ({ update() {}, stop() {} }) });

describe('runLoop on procedural data', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-loop-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('continues a project: the fleet feeds round 1, whose blocked candidate leaves v1 deployed', async () => {
    const data = join(dir, 'sim');
    await generateSimData({ out: data, drives: 4, frames: 60, signsPerClass: 30, seed: 3 });
    const log = testLogger();
    const common = {
      out: join(dir, 'out'),
      dataDir: data,
      dataConfig: join(import.meta.dirname, '..', '..', 'configs', 'data', 'sim.yaml'),
      teacherConfig: join(import.meta.dirname, '..', '..', 'packages', 'trainer', 'configs', 'teacher-sim.yaml'),
      rounds: 1,
      teacherEpochs: 6,
      distillEpochs: 6,
    };
    // Round 0 has no deployed model to compare with and relaxed collapse limits, so a briefly
    // trained model is published.
    const lenient = { maxTopClassShare: 1, minRelativeSpread: 0 };
    const first = await runLoop({ ...common, gate: lenient }, cli(log));
    expect(first.report.rounds[0]?.gate.publish, [...(first.report.rounds[0]?.gate.reasons ?? []), ...log.problems].join('\n')).toBe(true);
    expect(first.report.rounds[0]?.publishedVersion).toBe(1);
    const config = await loadProjectConfig(first.configFile, REPO);
    expect(config.gate.maxTopClassShare).toBe(1);
    expect(config.teacherEpochs).toBe(6);

    // The second run continues the project: the fleet drives on v1, and round 1's latency budget
    // of zero blocks any candidate, so the fleet must stay on version 1.
    const result = await runLoop({ ...common, gate: { ...lenient, maxLatencyP99Ms: 0 } }, cli(log));
    const [round0, round1] = result.report.rounds;
    expect(round0?.fleetVersions).toEqual({ 'robot-1': 1, 'robot-2': 1 });
    expect(round1?.round).toBe(1);
    expect(round1?.gate.publish).toBe(false);
    expect(round1?.gate.reasons.some((reason) => /p99 latency .* \(budget 0 ms\)/.test(reason))).toBe(true);
    expect(round1?.publishedVersion).toBeNull();
    expect(round1?.fleetVersions).toEqual({ 'robot-1': 1, 'robot-2': 1 });
    expect(round1?.deployed?.label).toBe('deployed v1');
    expect(Object.values(round1?.fieldSamples ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(round1?.snapshot.version).toBeGreaterThan(round0?.snapshot.version ?? 0);
    expect((await readReleases(projectPaths(common.out))).map((release) => release.version)).toEqual([1]);
    const saved = JSON.parse(await readFile(result.reportJson, 'utf8')) as LoopReport;
    expect(saved.rounds).toHaveLength(2);
    if (CHROMIUM) {
      const page = loadInChromium(result.reportHtml);
      expect(page.consoleErrors).toEqual([]);
      expect([...page.dom.matchAll(/data-marks="(\d+)"/g)].filter((m) => m[1] === '0')).toEqual([]);
    }
  }, 600_000);
});

const shared = findSharedData();
describe.skipIf(!shared)('runLoop on shared/data (skipped: shared/data not found beside the repository)', () => {
  it('runs two rounds on traffic signs and RC-car frames', async () => {
    const out = await mkdtemp(join(tmpdir(), 'fieldloop-loop-shared-'));
    try {
      const log = testLogger();
      const result = await runLoop({ out, dataDir: shared as string, rounds: 2, teacherEpochs: 8, distillEpochs: 6 }, cli(log));
      const rounds = result.report.rounds;
      expect(rounds.length, log.problems.join('\n')).toBe(2);
      for (const round of rounds) {
        expect(Object.keys(round.candidate.heads).sort()).toEqual(['sign', 'steering']);
        expect(round.gate.checks.length).toBeGreaterThan(3);
      }
      expect(rounds[0]?.publishedVersion).toBe(1);
      expect(Object.values(rounds[1]?.fieldSamples ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      const expectedVersion = rounds[1]?.gate.publish ? 2 : 1;
      expect(Object.values(rounds[1]?.fleetVersions ?? {})).toEqual([expectedVersion, expectedVersion]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 900_000);
});
