import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerBatchNormGradient } from '../src/backend/batch-norm-gradient.ts';

function values(size: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: size }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  });
}

/** Gradients of a weighted sum of batchNorm's output with respect to x, mean, variance, offset and scale. */
async function batchNormGradients(): Promise<Float32Array[]> {
  const x = tf.tensor4d(values(2 * 3 * 4 * 5, 1), [2, 3, 4, 5]);
  const mean = tf.tensor1d(values(5, 2));
  const variance = tf.tensor1d(values(5, 3).map((v) => v + 1));
  const offset = tf.tensor1d(values(5, 4));
  const scale = tf.tensor1d(values(5, 5));
  const weights = tf.tensor4d(values(2 * 3 * 4 * 5, 6), [2, 3, 4, 5]);
  const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor): tf.Tensor =>
    tf.sum(tf.mul(tf.batchNorm(a, b, c, d, e, 1e-3), weights));
  const grads = tf.grads(f)([x, mean, variance, offset, scale]);
  const result = await Promise.all(grads.map(async (g) => Float32Array.from(await g.data())));
  tf.dispose([x, mean, variance, offset, scale, weights, ...grads]);
  return result;
}

describe('batch norm gradient', () => {
  it('matches tfjs-core gradient', async () => {
    await tf.setBackend('cpu');
    const original = tf.getGradient('FusedBatchNorm');
    const expected = await batchNormGradients();
    registerBatchNormGradient();
    expect(tf.getGradient('FusedBatchNorm')).not.toBe(original);
    const actual = await batchNormGradients();
    expect(actual).toHaveLength(5);
    actual.forEach((gradient, input) => {
      const reference = expected[input] ?? new Float32Array();
      const worst = Math.max(...Array.from(gradient, (v, i) => Math.abs(v - (reference[i] ?? NaN))));
      expect(worst, `input ${input}`).toBeLessThan(1e-5);
    });
  });
});
