import type { InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentInputs, isAugmentOff, NO_AUGMENT, validateAugmentConfig } from '../src/kd/augment-inputs.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const input: InputSpec = { width: 4, height: 4, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

/** Returns a normalised batch of two samples whose raw pixels are all `raw` (0 to 1). */
function constantBatch(raw: number): tf.Tensor4D {
  return tf.fill([2, 4, 4, 3], (raw - 0.5) / 0.25) as tf.Tensor4D;
}

function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('augmentInputs', () => {
  it('brightness scales raw pixels', () => {
    // Per sample: crop keep, top, left, brightness draw; random() = 1 gives factor 1 + brightness.
    const out = augmentInputs(constantBatch(0.4), input, { crop: 0, brightness: 0.25, noise: 0 }, sequence([1]));
    const raw = Array.from(out.dataSync(), (v) => v * 0.25 + 0.5);
    for (const value of raw) expect(value).toBeCloseTo(0.5, 5);
  });

  it('bright pixels clipped to raw 1', () => {
    const out = augmentInputs(constantBatch(0.9), input, { crop: 0, brightness: 0.5, noise: 0 }, sequence([1]));
    expect(Math.max(...out.dataSync())).toBeCloseTo((1 - 0.5) / 0.25, 5);
  });

  it('crop keeps shape and picks a region', () => {
    // A horizontal ramp: the crop of the left half (keep 0.5, left 0) has only the smaller values.
    const ramp = tf.tidy(() => tf.tile(tf.reshape(tf.linspace(-1, 1, 4), [1, 1, 4, 1]), [2, 4, 1, 3])) as tf.Tensor4D;
    const out = augmentInputs(ramp, input, { crop: 0.5, brightness: 0, noise: 0 }, sequence([1, 0, 0, 0.5]));
    expect(out.shape).toEqual([2, 4, 4, 3]);
    expect(Math.max(...out.dataSync())).toBeLessThan(Math.max(...ramp.dataSync()));
  });

  it('same draws give same batch', () => {
    const config = { crop: 0.2, brightness: 0.2, noise: 3 };
    const batch = tf.randomUniform([2, 4, 4, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    const a = augmentInputs(batch, input, config, sequence([0.3, 0.7, 0.1, 0.9, 0.5]));
    const b = augmentInputs(batch, input, config, sequence([0.3, 0.7, 0.1, 0.9, 0.5]));
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(batch.dataSync()));
  });

  it('leaves input tensor intact', () => {
    const batch = constantBatch(0.4);
    const before = tf.memory().numTensors;
    const out = augmentInputs(batch, input, { crop: 0.1, brightness: 0.1, noise: 1 }, sequence([0.5]));
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(batch.isDisposed).toBe(false);
    out.dispose();
  });
});

describe('validateAugmentConfig', () => {
  it('invalid shares rejected', () => {
    expect(() => validateAugmentConfig({ crop: 1, brightness: 0, noise: 0 })).toThrow(/crop must be in \[0, 1\); got 1/);
    expect(() => validateAugmentConfig({ crop: 0, brightness: -0.1, noise: 0 })).toThrow(/brightness/);
    expect(() => validateAugmentConfig({ crop: 0, brightness: 0, noise: -1 })).toThrow(/noise must be 0 or more/);
  });

  it('off detected', () => {
    expect(isAugmentOff(NO_AUGMENT)).toBe(true);
    expect(isAugmentOff({ crop: 0, brightness: 0, noise: 1 })).toBe(false);
  });
});
