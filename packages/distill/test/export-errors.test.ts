import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportTflite, exportTfliteFile, MODEL_CARD_METADATA_NAME, readTfliteInfo, UnsupportedLayerError } from '../src/index.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function maxPoolModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten().apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'out' }).apply(flat) as tf.SymbolicTensor });
}

describe('exportTflite rejections', () => {
  it('unsupported layer named', () => {
    expect(() => exportTflite(maxPoolModel())).toThrow(UnsupportedLayerError);
    expect(() => exportTflite(maxPoolModel())).toThrow(/'pool' \(MaxPooling2D\)/);
  });

  it('unsupported activation named', () => {
    const input = tf.input({ shape: [4] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, activation: 'tanh', name: 'act' }).apply(input) as tf.SymbolicTensor });
    expect(() => exportTflite(model)).toThrow(/'act'.*activation 'tanh'/);
  });

  it('unfoldable batch norm named', () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: bn });
    expect(() => exportTflite(model)).toThrow(/'bn' \(BatchNormalization\).*folded/);
  });

  it('no file after failed export', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'distill-export-'));
    const file = path.join(dir, 'model.tflite');
    await expect(exportTfliteFile(maxPoolModel(), file)).rejects.toThrow(UnsupportedLayerError);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('exportTflite file contents', () => {
  it('model card stored as metadata', () => {
    const input = tf.input({ shape: [4] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'out' }).apply(input) as tf.SymbolicTensor });
    const card = { heads: [{ name: 'out', kind: 'classification', classes: ['a', 'b'] }] };
    const info = readTfliteInfo(exportTflite(model, { modelCard: card }));
    const stored = info.metadata.get(MODEL_CARD_METADATA_NAME);
    expect(stored).toBeDefined();
    expect(JSON.parse(new TextDecoder().decode(stored))).toEqual(card);
  });

  it('int8 calibration without samples rejected', () => {
    const input = tf.input({ shape: [4] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'out' }).apply(input) as tf.SymbolicTensor });
    expect(() => exportTflite(model, { calibration: [] })).toThrow(/no samples/);
  });
});
