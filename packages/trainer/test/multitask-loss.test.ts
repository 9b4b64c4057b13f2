import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select-backend.ts';
import { maskedHeadLoss, multiTaskLoss, type HeadTargets, type LossHead } from '../src/model/multitask-loss.ts';

const sign: LossHead = { name: 'sign', kind: 'classification', role: 'primary', weight: 2, classes: ['a', 'b'] };
const steering: LossHead = { name: 'steering', kind: 'regression', role: 'primary', weight: 1, loss: 'huber', huberDelta: 1 };
const night: LossHead = { name: 'night', kind: 'binary', role: 'auxiliary', weight: 3, classes: ['false', 'true'] };

function targets(values: number[], mask: number[], dtype: 'int32' | 'float32' = 'float32'): HeadTargets {
  return { values: tf.tensor1d(values, dtype), mask: tf.tensor1d(mask) };
}

async function scalarOf(t: tf.Tensor): Promise<number> {
  return (await t.data())[0] ?? NaN;
}

describe('multi-task loss', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('classification ignores masked rows', async () => {
    const logits = tf.tensor2d([[0, 0], [Math.log(3), 0], [100, 0]]);
    const loss = maskedHeadLoss(sign, logits, targets([0, 1, 1], [1, 1, 0], 'int32'));
    expect(await scalarOf(loss)).toBeCloseTo(1.5 * Math.LN2, 5);
  });

  it('huber and mse match hand values', async () => {
    const predictions = tf.tensor2d([[1], [0.5], [10]]);
    const labels = targets([3, 0, 0], [1, 1, 0]);
    expect(await scalarOf(maskedHeadLoss(steering, predictions, labels))).toBeCloseTo((1.5 + 0.125) / 2, 5);
    expect(await scalarOf(maskedHeadLoss({ ...steering, loss: 'mse' }, predictions, labels))).toBeCloseTo((4 + 0.25) / 2, 5);
  });

  it('binary cross-entropy matches hand values', async () => {
    const logits = tf.tensor2d([[0], [2]]);
    const loss = maskedHeadLoss(night, logits, targets([1, 0], [1, 1]));
    expect(await scalarOf(loss)).toBeCloseTo((Math.LN2 + 2 + Math.log1p(Math.exp(-2))) / 2, 5);
  });

  it('head without labels gives zero', async () => {
    const logits = tf.tensor2d([[5, -5], [1, 2]]);
    const labels = targets([0, 0], [0, 0], 'int32');
    const value = await scalarOf(maskedHeadLoss(sign, logits, labels));
    const gradient = tf.grad((x: tf.Tensor) => maskedHeadLoss(sign, x, labels))(logits);
    expect(value).toBe(0);
    expect(Array.from(await gradient.data(), Math.abs)).toEqual([0, 0, 0, 0]);
  });

  it('masked sample gets zero gradient', async () => {
    const predictions = tf.tensor2d([[1], [2], [3]]);
    const labels = targets([0, 0, 0], [1, 0, 1]);
    const gradient = await tf.grad((x: tf.Tensor) => maskedHeadLoss({ ...steering, loss: 'mse' }, x, labels))(predictions).data();
    expect(gradient[0]).toBeCloseTo(1, 5);
    expect(gradient[1]).toBe(0);
    expect(gradient[2]).toBeCloseTo(3, 5);
  });

  it('fixed weights combine primary and auxiliary', async () => {
    const outputs = [tf.tensor2d([[0, 0]]), tf.tensor2d([[3]]), tf.tensor2d([[0]])];
    const batch = {
      sign: targets([1], [1], 'int32'),
      steering: targets([1], [1]),
      night: targets([1], [1]),
    };
    const { total, perHead } = multiTaskLoss([sign, steering, night], outputs, batch, { kind: 'fixed' }, 0.5);
    expect(await scalarOf(perHead[1] ?? tf.scalar(NaN))).toBeCloseTo(1.5, 5);
    expect(await scalarOf(total)).toBeCloseTo(2 * Math.LN2 + 1 * 1.5 + 0.5 * 3 * Math.LN2, 5);
  });

  it('uncertainty weighting uses log-variance', async () => {
    const logVariances = { steering: tf.variable(tf.scalar(Math.LN2)), sign: tf.variable(tf.scalar(0)) };
    const outputs = [tf.tensor2d([[0, 0]]), tf.tensor2d([[3]])];
    const batch = { sign: targets([1], [0], 'int32'), steering: targets([1], [1]) };
    const { total } = multiTaskLoss([sign, steering], outputs, batch, { kind: 'uncertainty', logVariances }, 0.5);
    // sign has no label in the batch, so only steering's term counts: 0.5 * exp(-ln 2) * 1.5 + ln 2 / 2.
    expect(await scalarOf(total)).toBeCloseTo(0.25 * 1.5 + Math.LN2 / 2, 5);
  });
});
