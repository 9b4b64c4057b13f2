import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadSpec, InputSpec, Logger } from '@fieldloop/contracts';
import { exportTflite } from '@fieldloop/distill';
import { createBundle, generateSigningKeyPair } from '@fieldloop/edge-runtime';
import { createPrivateKey } from 'node:crypto';
import { evaluateCommand } from '../src/loop/evaluate-command.ts';
import { generateSimData } from '../src/sim/generate-sim-data.ts';
import { SIGN_CLASSES } from '../src/sim/render-sign.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const context = { log: silent, progress: () => ({ update() {}, stop() {} }) };

describe('evaluate command', () => {
  let dir: string;
  let bundle: string;
  let signs: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-evaluate-'));
    signs = (await generateSimData({ out: join(dir, 'sim'), drives: 1, frames: 5, signsPerClass: 3, seed: 5 })).signs;
    await tf.setBackend('cpu');
    const input: InputSpec = { width: 32, height: 32, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
    const heads: HeadSpec[] = [{ name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: [...SIGN_CLASSES].sort() }];
    const image = tf.input({ shape: [32, 32, 3] });
    const logits = tf.layers.dense({ units: SIGN_CLASSES.length, name: 'sign' }).apply(tf.layers.flatten().apply(image)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: image, outputs: logits });
    const file = join(dir, 'model.tflite');
    await writeFile(file, exportTflite(model));
    model.dispose();
    bundle = join(dir, 'bundle');
    const keys = generateSigningKeyPair();
    await createBundle({ dir: bundle, modelPath: file, name: 'test-student', version: 3, heads, input, privateKey: createPrivateKey(keys.privateKeyPem) });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('scores a bundle on a folder ingested on the fly', async () => {
    const mapping = join(import.meta.dirname, '..', '..', 'configs', 'mappings', 'sim-signs.yaml');
    const result = await evaluateCommand.run([], { model: bundle, data: signs, mapping, snapshot: 'latest' }, context);
    expect(result.exitCode).toBe(0);
    const summary = result.summary as { split: string; evaluation: { label: string; heads: Record<string, { support: number; metric: { value: number }; slices: Record<string, { support: number }> }> } };
    expect(summary.split).toBe('all');
    expect(summary.evaluation.label).toBe('test-student v3');
    const sign = summary.evaluation.heads.sign;
    expect(sign?.support).toBe(3 * SIGN_CLASSES.length);
    expect(sign?.metric.value).toBeGreaterThanOrEqual(0);
    expect(sign?.metric.value).toBeLessThanOrEqual(1);
    expect(sign?.slices.synthetic?.support).toBe(3 * SIGN_CLASSES.length);
  });

  it('asks for a mapping with --data', async () => {
    await expect(evaluateCommand.run([], { model: bundle, data: signs }, context)).rejects.toThrow(/--data needs --mapping/);
  });

  it('names a path that holds no model', async () => {
    const mapping = join(import.meta.dirname, '..', '..', 'configs', 'mappings', 'sim-signs.yaml');
    await expect(evaluateCommand.run([], { model: dir, data: signs, mapping }, context)).rejects.toThrow(/is neither a bundle \(manifest\.json\)/);
  });
});
