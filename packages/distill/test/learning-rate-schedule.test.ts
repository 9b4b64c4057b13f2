import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { scheduledLearningRate, ScheduledAdam } from '../src/kd/learning-rate-schedule.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('scheduledLearningRate', () => {
  it('constant keeps base rate', () => {
    expect(scheduledLearningRate(0.01, 'constant', 7, 10)).toBe(0.01);
  });

  it('cosine decays from base rate', () => {
    expect(scheduledLearningRate(0.01, 'cosine', 0, 10)).toBeCloseTo(0.01, 12);
    expect(scheduledLearningRate(0.01, 'cosine', 5, 10)).toBeCloseTo(0.005, 12);
    expect(scheduledLearningRate(0.01, 'cosine', 9, 10)).toBeCloseTo(0.01 * (1 + Math.cos(0.9 * Math.PI)) / 2, 12);
    expect(scheduledLearningRate(0.01, 'cosine', 9, 10)).toBeGreaterThan(0);
  });

  it('single epoch keeps base rate', () => {
    expect(scheduledLearningRate(0.01, 'cosine', 0, 1)).toBe(0.01);
  });
});

describe('ScheduledAdam', () => {
  it('rate zero leaves weights unchanged', () => {
    const weight = tf.variable(tf.scalar(1));
    const optimizer = new ScheduledAdam(0.1);
    optimizer.minimize(() => tf.square(weight) as tf.Scalar);
    const afterFirst = weight.dataSync()[0]!;
    expect(afterFirst).toBeLessThan(1);
    optimizer.setLearningRate(0);
    optimizer.minimize(() => tf.square(weight) as tf.Scalar);
    expect(weight.dataSync()[0]).toBe(afterFirst);
  });
});
