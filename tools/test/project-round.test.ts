import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@fieldloop/contracts';
import { evaluateCommand } from '../src/loop/evaluate-command.ts';
import { loadProjectConfig } from '../src/project/project-config.ts';
import type { ProjectContext } from '../src/project/project-context.ts';
import { projectPaths } from '../src/project/project-paths.ts';
import { readReleases } from '../src/project/release-registry.ts';
import { runRound } from '../src/project/run-round.ts';
import { STAGE_RECORD_FILE } from '../src/project/stage-record.ts';
import { fleetStage } from '../src/project/stages/fleet-stage.ts';
import { ingestStage } from '../src/project/stages/ingest-stage.ts';
import { trainStage } from '../src/project/stages/train-stage.ts';
import { generateSimData } from '../src/sim/generate-sim-data.ts';
import { CHROMIUM, loadInChromium } from './support/headless-chromium.ts';

const REPO = join(import.meta.dirname, '..', '..');

function testLogger(): Logger & { problems: string[] } {
  const problems: string[] = [];
  const note = (level: string) => (fields: Record<string, unknown>, message: string) => {
    problems.push(`${level}: ${message} ${JSON.stringify(fields)}`);
  };
  return { debug() {}, info() {}, warn: note('warn'), error: note('error'), problems };
}

const cli = (log: Logger) => ({ log, progress: () => ({ update() {}, stop() {} }) });

async function writeConfig(file: string, data: string, gate: string): Promise<void> {
  await writeFile(
    file,
    [
      `data: ${data}`,
      'dataConfig: configs/data/sim.yaml',
      'teacherConfig: packages/trainer/configs/teacher-sim.yaml',
      'teacherEpochs: 6',
      'distillEpochs: 6',
      'replay: 0.5',
      `gate: ${gate}`,
    ].join('\n'),
  );
}

describe('project-mode rounds, stage by stage', () => {
  let dir: string;
  let data: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-project-'));
    data = join(dir, 'sim');
    await generateSimData({ out: data, drives: 4, frames: 60, signsPerClass: 30, seed: 3 });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('blocked round 1 keeps v1 deployed', async () => {
    const log = testLogger();
    const configFile = join(dir, 'project.yaml');
    // Round 0 has nothing to compare with, and relaxed collapse limits let a briefly trained model through.
    await writeConfig(configFile, data, '{ maxTopClassShare: 1, minRelativeSpread: 0 }');
    const paths = projectPaths(join(dir, 'project'));
    const context: ProjectContext = { config: await loadProjectConfig(configFile, REPO), paths, log };

    const first = await runRound(context, cli(log));
    expect(first.ingest.basis.round).toBe(0);
    expect(first.ingest.basis.baseline).toBeNull();
    expect(first.gate.result.publish, [...first.gate.result.reasons, ...log.problems].join('\n')).toBe(true);
    expect(first.publish.result.publishedVersion).toBe(1);
    expect(first.publish.result.fleetVersions).toEqual({ 'robot-1': 1, 'robot-2': 1 });
    const releases = await readReleases(paths);
    expect(releases.map((r) => r.version)).toEqual([1]);
    expect(existsSync(join(releases[0]?.bundleDir ?? '', 'manifest.json'))).toBe(true);

    // fieldloop evaluate scores a project directory's newest release.
    const scored = await evaluateCommand.run([], { model: paths.dir, store: paths.store, snapshot: 'latest' }, cli(log));
    expect(scored.exitCode).toBe(0);
    expect((scored.summary as { bundle: string }).bundle).toBe(releases[0]?.bundleDir);
    // Data whose labels are none of the model's classes is an error, not an empty score.
    const wrongMapping = join(dir, 'wrong-signs.yaml');
    await writeFile(wrongMapping, (await readFile(join(REPO, 'configs', 'mappings', 'sim-signs.yaml'), 'utf8')).replace('column: sign', 'column: path'));
    await expect(evaluateCommand.run([], { model: paths.dir, data: join(data, 'signs'), mapping: wrongMapping }, cli(log))).rejects.toThrow(
      /has a label that fieldloop-student v1 can score: its heads are steering; sign \(classes /,
    );

    // Nothing new: the ingest record, which the next stages' cache keys hash, is byte for byte the same.
    const recordFile = join(paths.stage('ingest'), STAGE_RECORD_FILE);
    const before = await readFile(recordFile, 'utf8');
    await ingestStage(context);
    expect(await readFile(recordFile, 'utf8')).toBe(before);

    // The fleet drives on v1 and sends home a field batch: the next basis is a new snapshot against v1.
    const batch = await fleetStage(context);
    expect(batch?.servedVersion).toBe(1);
    expect(batch?.added ?? 0).toBeGreaterThan(0);

    // Round 1 with a latency budget of zero: the gate must block, and the fleet stays on v1.
    await writeConfig(configFile, data, '{ maxTopClassShare: 1, minRelativeSpread: 0, maxLatencyP99Ms: 0 }');
    const strict: ProjectContext = { ...context, config: await loadProjectConfig(configFile, REPO) };
    const second = await runRound(strict, cli(log));
    expect(second.ingest.basis.round).toBe(1);
    expect(second.ingest.basis.snapshot.version).toBe(batch?.snapshotVersion);
    expect(second.ingest.basis.baseline?.version).toBe(1);
    expect(second.gate.result.publish).toBe(false);
    expect(second.gate.result.reasons.some((reason) => /p99 latency .* \(budget 0 ms\)/.test(reason))).toBe(true);
    expect(second.publish.result.publishedVersion).toBeNull();
    expect(second.publish.result.fleetVersions).toEqual({ 'robot-1': 1, 'robot-2': 1 });
    expect((await readReleases(paths)).map((r) => r.version)).toEqual([1]);
    expect(second.report.report.rounds.map((r) => r.round)).toEqual([0, 1]);
    expect(second.report.report.rounds[1]?.deployed?.label).toBe('deployed v1');
    expect(Object.values(second.report.report.rounds[1]?.fieldSamples ?? {}).reduce((a, b) => a + b, 0)).toBe(batch?.added);
    if (CHROMIUM) {
      const page = loadInChromium(join(paths.stage('report'), 'report.html'));
      expect(page.consoleErrors).toEqual([]);
      expect([...page.dom.matchAll(/data-marks="(\d+)"/g)].filter((m) => m[1] === '0')).toEqual([]);
    }
  }, 900_000);

  it('train rejects a missing ingest', async () => {
    const log = testLogger();
    const configFile = join(dir, 'other.yaml');
    await writeConfig(configFile, data, '{}');
    const paths = projectPaths(join(dir, 'other'));
    const context: ProjectContext = { config: await loadProjectConfig(configFile, REPO), paths, log };
    await expect(trainStage(context)).rejects.toThrow(/the ingest stage has not run in .*other.*run it first/);
  });
});

describe('loadProjectConfig', () => {
  it('invalid value names file and fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-project-config-'));
    try {
      const file = join(dir, 'bad.yaml');
      await writeFile(file, 'data: null\ndataConfig: configs/data/sim.yaml\nteacherConfig: x.yaml\ngate: { maxLatencyMs: 3 }\n');
      await expect(loadProjectConfig(file, REPO)).rejects.toThrow(/bad\.yaml: gate\.maxLatencyMs is not a gate limit; known: .*maxLatencyP99Ms/);
      await writeFile(file, 'data: null\ndataConfig: configs/data/sim.yaml\nteacherConfig: x.yaml\nreplay: 2\n');
      await expect(loadProjectConfig(file, REPO)).rejects.toThrow(/replay must be a share from 0 to 0\.9, got 2/);
      await writeFile(file, 'data: null\ndataConfig: configs/data/sim.yaml\nteacherConfig: x.yaml\nreplya: 0.5\n');
      await expect(loadProjectConfig(file, REPO)).rejects.toThrow(/bad\.yaml: replya is not a project config key; known: .*replay/);
      await expect(loadProjectConfig(join(dir, 'none.yaml'), REPO)).rejects.toThrow(/none\.yaml: cannot be read .*pass an existing file with --config/);
      await writeFile(file, 'data: null\nteacherConfig: x.yaml\n');
      await expect(loadProjectConfig(file, REPO)).rejects.toThrow(/dataConfig must be a path/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the repository configs', async () => {
    const sim = await loadProjectConfig(join(REPO, 'configs', 'project', 'sim.yaml'), REPO);
    expect(sim.data).toBeNull();
    expect(sim.gate.maxLatencyP99Ms).toBeGreaterThan(0);
    const shared = await loadProjectConfig(join(REPO, 'configs', 'project', 'shared-data.yaml'), REPO);
    expect(shared.data).toBe(join(REPO, '..', 'shared', 'data'));
    expect(shared.teacherEpochs).toBe(8);
  });
});
