import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportTflite, TFLITE_ENGINES } from '../src/index.ts';
import { maxAbsoluteError, maxRelativeError, runTflite, runTfjs, seededInput } from './helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Sets every BatchNormalization layer's statistics to non-trivial values so folding is exercised. */
function randomizeBatchNorm(model: tf.LayersModel): void {
  let seed = 100;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const weights = layer.getWeights();
    layer.setWeights(
      weights.map((w, i) => (i === weights.length - 1 ? tf.randomUniform(w.shape, 0.5, 2, 'float32', seed++) : tf.randomUniform(w.shape, -0.5, 0.5, 'float32', seed++))),
    );
  }
}

type Builder = (input: tf.SymbolicTensor) => tf.SymbolicTensor | tf.SymbolicTensor[];

const cases: Array<{ name: string; shape: number[]; build: Builder }> = [
  {
    name: 'conv2d relu',
    shape: [8, 8, 3],
    build: (x) => tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'out' }).apply(x) as tf.SymbolicTensor,
  },
  {
    name: 'conv2d stride2 valid',
    shape: [9, 9, 3],
    build: (x) => tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'valid', name: 'out' }).apply(x) as tf.SymbolicTensor,
  },
  {
    name: 'conv2d batchnorm relu6',
    shape: [8, 8, 3],
    build: (x) => {
      let y = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor;
      y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
      return tf.layers.reLU({ maxValue: 6, name: 'out' }).apply(y) as tf.SymbolicTensor;
    },
  },
  {
    name: 'depthwise batchnorm relu',
    shape: [8, 8, 4],
    build: (x) => {
      let y = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }).apply(x) as tf.SymbolicTensor;
      y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
      return tf.layers.activation({ activation: 'relu', name: 'out' }).apply(y) as tf.SymbolicTensor;
    },
  },
  {
    name: 'residual add',
    shape: [6, 6, 4],
    build: (x) => {
      const y = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
      return tf.layers.add({ name: 'out' }).apply([x, y]) as tf.SymbolicTensor;
    },
  },
  {
    name: 'global pool dense softmax',
    shape: [6, 6, 3],
    build: (x) => {
      const y = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
      const p = tf.layers.globalAveragePooling2d({}).apply(y) as tf.SymbolicTensor;
      return tf.layers.dense({ units: 5, activation: 'softmax', name: 'out' }).apply(p) as tf.SymbolicTensor;
    },
  },
  {
    name: 'flatten dense sigmoid',
    shape: [4, 4, 2],
    build: (x) => {
      const f = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
      return tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'out' }).apply(f) as tf.SymbolicTensor;
    },
  },
  {
    name: 'concatenate',
    shape: [6, 6, 3],
    build: (x) => {
      const a = tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
      const b = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
      return tf.layers.concatenate({ name: 'out' }).apply([a, b]) as tf.SymbolicTensor;
    },
  },
  {
    name: 'three heads',
    shape: [8, 8, 3],
    build: (x) => {
      const y = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
      const p = tf.layers.globalAveragePooling2d({}).apply(y) as tf.SymbolicTensor;
      return [
        tf.layers.dense({ units: 4, name: 'sign' }).apply(p) as tf.SymbolicTensor,
        tf.layers.dense({ units: 1, name: 'blocked' }).apply(p) as tf.SymbolicTensor,
        tf.layers.dense({ units: 1, name: 'steering' }).apply(p) as tf.SymbolicTensor,
      ];
    },
  },
];

function buildModel(shape: number[], build: Builder, seed: number): tf.LayersModel {
  const input = tf.input({ shape, name: 'image' });
  const model = tf.model({ inputs: input, outputs: build(input) });
  // Re-draw weights from a seed so every run exports the same model.
  for (const layer of model.layers) {
    if (layer.getClassName() === 'BatchNormalization') continue;
    layer.setWeights(layer.getWeights().map((w, i) => tf.randomUniform(w.shape, -0.5, 0.5, 'float32', seed + i)));
  }
  randomizeBatchNorm(model);
  return model;
}

describe('exportTflite op by op', () => {
  cases.forEach((testCase, index) => {
    describe(testCase.name, () => {
      const model = buildModel(testCase.shape, testCase.build, 10 * index + 1);
      const input = seededInput([1, ...testCase.shape], 7 + index);
      const expected = runTfjs(model, input);

      for (const engine of TFLITE_ENGINES) {
        it(`float32 on ${engine}`, async () => {
          const out = await runTflite(exportTflite(model), engine, input);
          for (const [name, values] of Object.entries(expected)) {
            expect(out[name], `output ${name}`).toBeDefined();
            expect(maxRelativeError(out[name]!, values)).toBeLessThan(1e-4);
          }
        });

        it(`int8 on ${engine}`, async () => {
          const calibration = [0, 1, 2, 3, 4, 5, 6, 7].map((s) => seededInput([1, ...testCase.shape], 1000 + s));
          const bytes = exportTflite(model, { calibration: [input, ...calibration] });
          const out = await runTflite(bytes, engine, input);
          for (const [name, values] of Object.entries(expected)) {
            const range = Math.max(...values.map(Math.abs), 1e-3);
            expect(out[name], `output ${name}`).toBeDefined();
            expect(maxAbsoluteError(out[name]!, values) / range).toBeLessThan(0.08);
          }
        });
      }
    });
  });
});
