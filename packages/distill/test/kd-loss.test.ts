import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryKdLoss, classificationKdLoss, hintLoss, regressionKdLoss, retainedShare } from '../src/index.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function softmax(values: number[], t: number): number[] {
  const e = values.map((v) => Math.exp(v / t));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

describe('classificationKdLoss', () => {
  const s = [
    [1, 0, -1],
    [0.5, 0.2, 0.1],
  ];
  const t = [
    [2, 0.5, -0.5],
    [-1, 1, 0],
  ];
  const labels = [0, 2];
  const T = 2;

  function handComputed(alpha: number, mask: number[]): number {
    let kl = 0;
    for (let b = 0; b < 2; b++) {
      const p = softmax(t[b]!, T);
      const q = softmax(s[b]!, T);
      kl += p.reduce((sum, pi, i) => sum + pi * Math.log(pi / q[i]!), 0);
    }
    const soft = (kl / 2) * T * T;
    let ce = 0;
    for (let b = 0; b < 2; b++) ce += mask[b]! * -Math.log(softmax(s[b]!, 1)[labels[b]!]!);
    const labelled = Math.max(1, mask[0]! + mask[1]!);
    return alpha * soft + (1 - alpha) * (ce / labelled);
  }

  it('matches hand computation', () => {
    const loss = classificationKdLoss(tf.tensor2d(s), tf.tensor2d(t), tf.tensor1d(labels), tf.tensor1d([1, 1]), { temperature: T, alpha: 0.7 });
    expect(loss.dataSync()[0]).toBeCloseTo(handComputed(0.7, [1, 1]), 5);
  });

  it('unlabelled sample masked', () => {
    const loss = classificationKdLoss(tf.tensor2d(s), tf.tensor2d(t), tf.tensor1d(labels), tf.tensor1d([1, 0]), { temperature: T, alpha: 0.5 });
    expect(loss.dataSync()[0]).toBeCloseTo(handComputed(0.5, [1, 0]), 5);
  });

  it('zero when student equals teacher and alpha 1', () => {
    const loss = classificationKdLoss(tf.tensor2d(t), tf.tensor2d(t), tf.tensor1d(labels), tf.tensor1d([0, 0]), { temperature: 3, alpha: 1 });
    expect(Math.abs(loss.dataSync()[0]!)).toBeLessThan(1e-6);
  });
});

describe('binaryKdLoss', () => {
  it('matches hand computation', () => {
    const s = [0.3, -1.2];
    const t = [1.5, -0.4];
    const y = [1, 0];
    const T = 2;
    const alpha = 0.6;
    let kl = 0;
    for (let b = 0; b < 2; b++) {
      const p = sigmoid(t[b]! / T);
      const q = sigmoid(s[b]! / T);
      kl += p * Math.log(p / q) + (1 - p) * Math.log((1 - p) / (1 - q));
    }
    const soft = (kl / 2) * T * T;
    const bce = -(Math.log(sigmoid(s[0]!)) + Math.log(1 - sigmoid(s[1]!))) / 2;
    const expected = alpha * soft + (1 - alpha) * bce;
    const loss = binaryKdLoss(tf.tensor2d(s, [2, 1]), tf.tensor2d(t, [2, 1]), tf.tensor1d(y), tf.tensor1d([1, 1]), { temperature: T, alpha });
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
  });
});

describe('regressionKdLoss', () => {
  it('matches hand computation', () => {
    const s = [0.5, -0.5, 1];
    const t = [0.4, 0, 1.5];
    const y = [1, -1, 0];
    const mask = [1, 1, 0];
    const alpha = 0.25;
    const soft = ((0.1 * 0.1) + 0.25 + 0.25) / 3;
    const hard = (0.25 + 0.25) / 2;
    const loss = regressionKdLoss(tf.tensor2d(s, [3, 1]), tf.tensor2d(t, [3, 1]), tf.tensor1d(y), tf.tensor1d(mask), { temperature: 4, alpha });
    expect(loss.dataSync()[0]).toBeCloseTo(alpha * soft + (1 - alpha) * hard, 6);
  });
});

describe('hintLoss', () => {
  it('mean squared difference', () => {
    const loss = hintLoss(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]), tf.tensor4d([1, 0, 3, 0], [1, 2, 2, 1]));
    expect(loss.dataSync()[0]).toBeCloseTo((4 + 16) / 4, 6);
  });

  it('shape mismatch rejected', () => {
    expect(() => hintLoss(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 4, 4, 1]))).toThrow(/shapes differ/);
  });
});

describe('retainedShare', () => {
  it('accuracy ratio', () => {
    expect(retainedShare({ name: 'accuracy', value: 0.8, count: 10 }, { name: 'accuracy', value: 0.6, count: 10 })).toBeCloseTo(0.75, 9);
  });

  it('error ratio for mae', () => {
    expect(retainedShare({ name: 'mae', value: 2, count: 10 }, { name: 'mae', value: 4, count: 10 })).toBeCloseTo(0.5, 9);
  });

  it('NaN without labelled samples', () => {
    expect(retainedShare({ name: 'mae', value: Number.NaN, count: 0 }, { name: 'mae', value: Number.NaN, count: 0 })).toBeNaN();
  });
});
