import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import { createBundle } from '../../src/bundle/create-bundle.ts';
import type { KeyObject } from 'node:crypto';
import { saveTfjsModel } from '../../src/engines/save-tfjs-model.ts';

export const INPUT: InputSpec = { width: 8, height: 8, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
export const HEADS: HeadSpec[] = [
  { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: ['stop', 'yield', 'speed'] },
  { name: 'steering', kind: 'regression', role: 'primary', weight: 1, normalization: { mean: 90, std: 10 } },
];

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `edge-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Builds a two-head LayersModel on an 8x8 RGB input: a 3-class `sign` head and a `steering`
 * regression head. `fill` sets every weight to one value (NaN makes a model that outputs NaN);
 * otherwise weights are seeded random.
 */
export function buildTwoHeadModel(options: { fill?: number; seed?: number } = {}): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const init = options.fill === undefined ? tf.initializers.glorotUniform({ seed: options.seed ?? 1 }) : tf.initializers.constant({ value: options.fill });
  const sign = tf.layers.dense({ units: 3, name: 'sign', kernelInitializer: init, biasInitializer: 'zeros' }).apply(flat) as tf.SymbolicTensor;
  const steering = tf.layers.dense({ units: 1, name: 'steering', kernelInitializer: init, biasInitializer: 'zeros' }).apply(flat) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [sign, steering] });
}

/** Saves a model as a signed tfjs bundle in `dir` with the test heads and input spec. */
export async function writeTfjsBundle(model: tf.LayersModel, dir: string, version: number, privateKey?: KeyObject) {
  const modelDir = `${dir}.model`;
  const modelPath = await saveTfjsModel(model, modelDir);
  const manifest = await createBundle({ dir, modelPath, name: 'test-student', version, heads: HEADS, input: INPUT, privateKey });
  await rm(modelDir, { recursive: true, force: true });
  return manifest;
}
