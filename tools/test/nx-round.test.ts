import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSharedData } from '@fieldloop/contracts';
import { generateSimData } from '../src/sim/generate-sim-data.ts';

const REPO = join(import.meta.dirname, '..', '..');
const NX = join(REPO, 'node_modules', 'nx', 'dist', 'bin', 'nx.js');

/** Returns the environment of a fresh top-level Nx run, without the outer Nx task's variables. */
function nxEnv(cache: string, workspaceData: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('NX_') && key !== 'VITEST' && !key.startsWith('VITEST_')) env[key] = value;
  delete env.FORCE_COLOR;
  return { ...env, NO_COLOR: '1', NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_CACHE_DIRECTORY: cache, NX_WORKSPACE_DATA_DIRECTORY: workspaceData };
}

/** Returns a command's stdout and stderr together, without terminal colour codes. */
function plainOutput(result: { stdout: string; stderr: string }): string {
  return (result.stdout + result.stderr).replace(/\u001b\[[0-9;]*m/g, '');
}

async function waitFor(file: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('the round as Nx targets', () => {
  let tmp: string;
  let projectDir: string;
  let args: string[];
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fieldloop-nx-round-'));
    // Nx caches only outputs inside the workspace, so the project directory is under .fieldloop.
    projectDir = join('.fieldloop', `test-nx-round-${process.pid}`);
    const data = join(tmp, 'sim');
    await generateSimData({ out: data, drives: 4, frames: 40, signsPerClass: 20, seed: 5 });
    const config = join(tmp, 'project.yaml');
    await writeFile(
      config,
      `data: ${data}\ndataConfig: configs/data/sim.yaml\nteacherConfig: packages/trainer/configs/teacher-sim.yaml\n` +
        'teacherEpochs: 2\ndistillEpochs: 2\nreplay: 0.5\ngate: { maxTopClassShare: 1, minRelativeSpread: 0 }\n',
    );
    args = [NX, 'run', 'tools:loop', `--dir=${projectDir}`, `--config=${config}`, '--outputStyle=stream'];
    env = nxEnv(join(tmp, 'nx-cache'), join(tmp, 'nx-workspace-data'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
    await rm(join(REPO, projectDir), { recursive: true, force: true });
  });

  it('task graph lists the stages in order', () => {
    const graphFile = join(tmp, 'graph.json');
    const result = spawnSync(process.execPath, [NX, 'run', 'tools:loop', `--graph=${graphFile}`], { cwd: REPO, env, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const graph = JSON.parse(spawnSync('cat', [graphFile], { encoding: 'utf8' }).stdout) as { tasks: { dependencies: Record<string, Array<{ id: string }>> } };
    const chain: string[] = [];
    for (let task: string | undefined = 'tools:loop'; task; task = graph.tasks.dependencies[task]?.[0]?.id) chain.push(task);
    expect(chain).toEqual(['tools:loop', 'tools:publish', 'tools:gate', 'edge-runtime:evaluate', 'distill:export', 'distill:distill', 'trainer:train', 'ros-bridge:ingest']);
  });

  it('killed round resumes, then hits the cache', async () => {
    const first = spawn(process.execPath, args, { cwd: REPO, env, detached: true, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => first.once('exit', () => resolve()));
    // The whole run is killed once distillation has started, when ingest and train are finished targets.
    await waitFor(join(REPO, projectDir, 'stages', 'distill', 'basis.json'), 300_000);
    process.kill(-(first.pid as number), 'SIGKILL');
    await exited;
    expect(existsSync(join(REPO, projectDir, 'stages', 'publish', 'stage.json'))).toBe(false);

    const resumed = spawnSync(process.execPath, args, { cwd: REPO, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const output = plainOutput(resumed);
    expect(resumed.status, output.slice(-4000)).toBe(0);
    expect(output).toMatch(/nx run trainer:train[^\n]*(local cache|existing outputs match the cache)/);
    expect(output).not.toMatch(/nx run distill:distill[^\n]*(local cache|existing outputs match the cache)/);
    // Two epochs may or may not train a model that the gate passes, but the round always ends with a verdict.
    expect(output).toMatch(/round 0 \(snapshot v\d+, \d+ s\): .*(published v1|blocked: )/);

    const again = spawnSync(process.execPath, args, { cwd: REPO, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const repeated = plainOutput(again);
    expect(again.status, repeated.slice(-4000)).toBe(0);
    // Every target but ingest, which looks for new field data in the store, comes from the cache.
    expect(repeated).toMatch(/from the cache instead of running the command for 7 out of 8 tasks/);
    expect(repeated).toMatch(/round 0 \(snapshot v\d+, \d+ s\): .*(published v1|blocked: )/);
  }, 1_200_000);
});

const shared = findSharedData();
describe.skipIf(!shared)('the Nx round on shared/data (skipped: shared/data not found beside the repository)', () => {
  let tmp: string;
  let projectDir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fieldloop-nx-shared-'));
    projectDir = join('.fieldloop', `test-nx-shared-${process.pid}`);
    env = { ...nxEnv(join(tmp, 'nx-cache'), join(tmp, 'nx-workspace-data')), FIELDLOOP_SHARED_DATA: shared as string };
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
    await rm(join(REPO, projectDir), { recursive: true, force: true });
  });

  const run = (target: string): { output: string; seconds: number } => {
    const started = Date.now();
    const result = spawnSync(process.execPath, [NX, 'run', target, `--dir=${projectDir}`, '--outputStyle=stream'], { cwd: REPO, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const output = plainOutput(result);
    expect(result.status, output.slice(-4000)).toBe(0);
    return { output, seconds: (Date.now() - started) / 1000 };
  };

  it('runs two rounds, each repeated from the cache', () => {
    const first = run('tools:loop:shared');
    expect(first.output).toMatch(/round 0 \(snapshot v\d+, \d+ s\): .*; published v1/);
    const repeated = run('tools:loop:shared');
    expect(repeated.output).toMatch(/from the cache instead of running the command for 7 out of 8 tasks/);
    expect(repeated.seconds).toBeLessThan(60);

    const fleet = run('tools:fleet:shared');
    expect(fleet.output).toMatch(/field batch: snapshot v\d+, [1-9]\d* new samples/);
    const second = run('tools:loop:shared');
    // The gate prints its verdict with the reasons, whichever way it goes.
    expect(second.output).toMatch(/round 1 \(snapshot v\d+, \d+ s\): .*(published v2|blocked: .+)/);
    expect(second.output).not.toMatch(/nx run trainer:train:shared[^\n]*(local cache|existing outputs match)/);
    const again = run('tools:loop:shared');
    expect(again.output).toMatch(/from the cache instead of running the command for 7 out of 8 tasks/);
    expect(again.seconds).toBeLessThan(60);
  }, 1_800_000);
});
