import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select-backend.ts';
import { augmentSample } from '../src/data/augment.ts';
import type { LoadedSample } from '../src/data/load-samples.ts';
import { resizeRgb } from '../src/data/load-samples.ts';
import { disposeBatch, makeBatch, planEpoch } from '../src/data/make-batches.ts';
import { SeededRandom } from '../src/data/seeded-random.ts';

const heads: HeadSpec[] = [
  { name: 'steering', kind: 'regression', role: 'primary', weight: 1, normalization: { mean: 0.5, std: 2 } },
  { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: ['1', '2', '10'] },
];
const flipOnly = { flip: 1, brightness: 0, crop: 0, noise: 0 };
const rules = { steering: { policy: 'negate', center: 0 }, sign: { policy: 'forbid', center: 0 } } as const;

function rampImage(width: number, height: number): Float32Array {
  const pixels = new Float32Array(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(i / 3) % width;
  return pixels;
}

function sample(id: string, labels: LoadedSample['labels']): LoadedSample {
  return { id, pixels: new Float32Array(4 * 4 * 3).fill(51), labels, tags: [], recording: id, addedIn: 1 };
}

describe('augmentSample', () => {
  it('flip negates steering', () => {
    const result = augmentSample(rampImage(4, 2), { steering: 0.3 }, 4, 2, heads, rules, flipOnly, new SeededRandom(1));
    expect(result.labels.steering).toBe(-0.3);
    expect(Array.from(result.pixels.slice(0, 12))).toEqual([3, 3, 3, 2, 2, 2, 1, 1, 1, 0, 0, 0]);
  });

  it('flip mirrors around the center', () => {
    const centred = { ...rules, steering: { policy: 'negate', center: 90 } } as const;
    const result = augmentSample(rampImage(4, 2), { steering: 100 }, 4, 2, heads, centred, flipOnly, new SeededRandom(1));
    expect(result.labels.steering).toBe(80);
  });

  it('forbidden head blocks the flip', () => {
    const pixels = rampImage(4, 2);
    const result = augmentSample(pixels, { sign: '10' }, 4, 2, heads, rules, flipOnly, new SeededRandom(1));
    expect(result.labels.sign).toBe('10');
    expect(Array.from(result.pixels)).toEqual(Array.from(pixels));
  });

  it('brightness keeps pixels in range', () => {
    const result = augmentSample(new Float32Array(12).fill(250), {}, 2, 2, heads, rules, { flip: 0, brightness: 0.5, crop: 0.2, noise: 5 }, new SeededRandom(3));
    expect(Math.max(...result.pixels)).toBeLessThanOrEqual(255);
    expect(Math.min(...result.pixels)).toBeGreaterThanOrEqual(0);
  });
});

describe('planEpoch', () => {
  const samples = [
    ...Array.from({ length: 30 }, (_, i) => sample(`s${i}`, { steering: 0 })),
    ...Array.from({ length: 6 }, (_, i) => sample(`g${i}`, { sign: '1' })),
  ];

  it('equal policy balances sources', () => {
    const plan = planEpoch(samples, 6, 'equal', 'heads', heads, new SeededRandom(2));
    const signs = plan.flat().filter((index) => index >= 30).length;
    expect(plan).toHaveLength(6);
    expect(signs).toBe(18);
  });

  it('proportional policy visits each sample once', () => {
    const plan = planEpoch(samples, 8, 'proportional', 'heads', heads, new SeededRandom(2));
    expect(plan.flat().sort((a, b) => a - b)).toEqual(samples.map((_, i) => i));
  });
});

describe('makeBatch', () => {
  const input: InputSpec = { width: 4, height: 4, channels: 3, layout: 'NHWC', mean: [0.2, 0.2, 0.2], std: [0.5, 0.5, 0.5] };

  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('encodes targets and masks', async () => {
    const batch = makeBatch([sample('a', { steering: 2.5 }), sample('b', { sign: '10' })], [0, 1], heads, input);
    expect(Array.from(await batch.targets.steering!.values.data())).toEqual([1, 0]);
    expect(Array.from(await batch.targets.steering!.mask.data())).toEqual([1, 0]);
    expect(Array.from(await batch.targets.sign!.values.data())).toEqual([0, 2]);
    expect(Array.from(await batch.targets.sign!.mask.data())).toEqual([0, 1]);
    expect((await batch.x.data())[0]).toBeCloseTo((51 / 255 - 0.2) / 0.5, 5);
    disposeBatch(batch);
  });

  it('resizes inputs bilinearly', () => {
    const bytes = new Uint8Array(2 * 2 * 3).fill(100);
    const tensorsBefore = tf.memory().numTensors;
    const resized = resizeRgb(bytes, 2, 2, 4, 3);
    expect(resized).toHaveLength(4 * 3 * 3);
    expect(Array.from(new Set(resized))).toEqual([100]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
