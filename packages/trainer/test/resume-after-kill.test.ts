import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runTraining } from '../src/train/run-training.ts';
import { METRICS_LOG_FILE } from '../src/train/train-teacher.ts';
import { createSyntheticStore } from './helpers/synthetic-store.ts';

const testDir = dirname(fileURLToPath(import.meta.url));
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const EPOCHS = 8;

async function checkpointEpoch(outDir: string): Promise<number> {
  try {
    const index = JSON.parse(await readFile(join(outDir, 'checkpoint', 'checkpoint.json'), 'utf8')) as { state: { epoch: number } };
    return index.state.epoch;
  } catch {
    return 0;
  }
}

describe('training resume', () => {
  it('continues after kill', async () => {
    const { dir: storeDir, store } = await createSyntheticStore({ signs: 150, steering: 150 });
    await store.close();
    const configPath = join(await mkdtemp(join(tmpdir(), 'trainer-config-')), 'teacher.json');
    await writeFile(
      configPath,
      JSON.stringify({
        input: { width: 16, height: 16 },
        backbone: { stemChannels: 8, stages: [{ channels: 8, blocks: 1, stride: 1 }, { channels: 16, blocks: 1, stride: 2 }] },
        heads: [
          { name: 'steering', kind: 'regression', flip: 'negate' },
          { name: 'sign', kind: 'classification', flip: 'forbid' },
        ],
        training: { epochs: EPOCHS, batchSize: 16, patience: 0 },
      }),
    );
    const outDir = await mkdtemp(join(tmpdir(), 'trainer-resume-'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(testDir, 'fixtures', 'train-child.ts'), storeDir, configPath, outDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let killedAt = 0;
    for (let waited = 0; waited < 100_000 && child.exitCode === null; waited += 50) {
      killedAt = await checkpointEpoch(outDir);
      if (killedAt >= 2) {
        child.kill('SIGKILL');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const code = await exited;
    expect(code, `child exited before the kill: ${stderr}`).toBeNull();
    killedAt = await checkpointEpoch(outDir);
    expect(killedAt).toBeGreaterThanOrEqual(2);
    expect(killedAt).toBeLessThan(EPOCHS);

    const resumed = await runTraining({ storeDir, snapshot: 'latest', configPath, outDir, backend: 'wasm', log: silent });
    expect(resumed.training.startEpoch).toBe(killedAt + 1);
    expect(resumed.training.history.map((r) => r.epoch)[0]).toBe(killedAt + 1);
    expect(resumed.card.training.epochs).toBe(EPOCHS);
    const logged = (await readFile(join(outDir, METRICS_LOG_FILE), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { epoch: number }).epoch);
    expect(logged.slice(-1)[0]).toBe(EPOCHS);
    expect(logged.filter((epoch) => epoch > killedAt)).toEqual(Array.from({ length: EPOCHS - killedAt }, (_, i) => killedAt + 1 + i));
  }, 150_000);
});
