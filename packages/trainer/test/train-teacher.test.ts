import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select-backend.ts';
import { buildHeadSpecs } from '../src/data/head-specs.ts';
import { loadSamples } from '../src/data/load-samples.ts';
import { buildTeacherModel } from '../src/model/build-teacher-model.ts';
import { trainTeacher, METRICS_LOG_FILE, type EpochRecord } from '../src/train/train-teacher.ts';
import { createSyntheticStore } from './helpers/synthetic-store.ts';
import { tinyConfig } from './helpers/tiny-config.ts';

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const input: InputSpec = { width: 16, height: 16, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

describe('trainTeacher', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('learns both heads and keeps tensors flat', async () => {
    const { store } = await createSyntheticStore();
    const config = tinyConfig({ epochs: 4 });
    const heads = buildHeadSpecs(store, 'latest', config.heads);
    const train = await loadSamples(store, 'latest', { split: 'train', width: 16, height: 16 });
    const val = await loadSamples(store, 'latest', { split: 'val', width: 16, height: 16 });
    const outDir = await mkdtemp(join(tmpdir(), 'trainer-out-'));
    const result = await trainTeacher({ config, heads, input, train, val, outDir, log: silent });
    const first = result.history[0] as EpochRecord;
    const last = result.history[result.history.length - 1] as EpochRecord;
    expect(result.history.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
    expect(last.trainLoss).toBeLessThan(first.trainLoss);
    expect(result.history.map((r) => r.numTensors - first.numTensors)).toEqual([0, 0, 0, 0]);
    expect(heads.find((h) => h.name === 'sign')?.classes).toEqual(['0', '1', '2']);
    const lines = (await readFile(join(outDir, METRICS_LOG_FILE), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(4);
    await store.close();
  });

  it('resumed run with dropout matches uninterrupted run', async () => {
    const { store } = await createSyntheticStore({ signs: 30, steering: 30 });
    // Dropout masks depend on the seed and the step only, so they do not break the match.
    const config = tinyConfig({ epochs: 3, dropout: 0.3 });
    const heads = buildHeadSpecs(store, 'latest', config.heads);
    const train = await loadSamples(store, 'latest', { split: 'train', width: 16, height: 16 });
    const val = await loadSamples(store, 'latest', { split: 'val', width: 16, height: 16 });
    await store.close();
    const common = { config, heads, input, train, val, log: silent };
    const straight = await trainTeacher({ ...common, outDir: await mkdtemp(join(tmpdir(), 'trainer-straight-')) });
    const splitDir = await mkdtemp(join(tmpdir(), 'trainer-split-'));
    const firstPart = await trainTeacher({ ...common, outDir: splitDir, maxEpochsThisRun: 1 });
    firstPart.model.dispose();
    const resumed = await trainTeacher({ ...common, outDir: splitDir });
    expect(resumed.startEpoch).toBe(2);
    const expected = straight.model.getWeights().map((w) => Array.from(w.dataSync()));
    const actual = resumed.model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(actual).toEqual(expected);
    straight.model.dispose();
    resumed.model.dispose();

    await expect(trainTeacher({ ...common, outDir: splitDir, dataKey: 'other snapshot' })).rejects.toThrow(
      'was made with another config or snapshot',
    );
  });

  it('builds one named output per head', () => {
    const config = tinyConfig({ block: 'inverted-residual' });
    const heads = [
      { name: 'steering', kind: 'regression' as const, role: 'primary' as const, weight: 1 },
      { name: 'sign', kind: 'classification' as const, role: 'primary' as const, weight: 1, classes: ['a', 'b', 'c', 'd'] },
    ];
    const model = buildTeacherModel(config, heads);
    expect(model.outputNames).toEqual(['steering', 'sign']);
    expect(model.outputs.map((o) => o.shape)).toEqual([[null, 1], [null, 4]]);
    model.dispose();
  });

  it('inverted residual trains on wasm', async () => {
    const config = tinyConfig({ block: 'inverted-residual' });
    const heads = [{ name: 'steering', kind: 'regression' as const, role: 'primary' as const, weight: 1 }];
    const model = buildTeacherModel({ ...config, heads: config.heads.slice(0, 1) }, heads);
    const x = tf.randomNormal([4, 16, 16, 3], 0, 1, 'float32', 3);
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => (model.apply(x, { training: true }) as tf.Tensor).square().mean() as tf.Scalar, variables);
    const norms = await Promise.all(Object.values(grads).map(async (g) => (await g.abs().sum().data())[0] ?? NaN));
    expect(norms.every(Number.isFinite)).toBe(true);
    expect(norms.some((n) => n > 0)).toBe(true);
    tf.dispose([x, ...Object.values(grads)]);
    model.dispose();
  });
});
