import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStudent, chooseWidth, distill, exportTflite, type DistillBatch } from '../src/index.ts';
import { maxRelativeError, runTflite, runTfjs } from './helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const heads: HeadSpec[] = [
  { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: ['a', 'b', 'c'] },
  { name: 'blocked', kind: 'binary', role: 'auxiliary', weight: 0.5, classes: ['no', 'yes'] },
  { name: 'steering', kind: 'regression', role: 'primary', weight: 1, normalization: { mean: 0, std: 1 } },
];
const input: InputSpec = { width: 16, height: 16, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

/** Builds a wider network with the same heads, in place of the trainer's teacher. */
function teacherModel(): tf.LayersModel {
  return buildStudent(heads, input, { widthMultiplier: 2, seed: 50 });
}

function makeBatches(count: number): DistillBatch[] {
  return Array.from({ length: count }, (_, i) => ({
    inputs: tf.randomUniform([4, 16, 16, 3], -1, 1, 'float32', 300 + i) as tf.Tensor4D,
    labels: {
      sign: tf.tensor1d([0, 1, 2, 1], 'int32'),
      blocked: tf.tensor1d([0, 1, 1, 0]),
      steering: tf.tensor1d([0.1, -0.2, 0.3, 0]),
    },
    // The last two samples stand for field captures without labels.
    masks: { sign: tf.tensor1d([1, 1, 0, 0]), blocked: tf.tensor1d([1, 1, 0, 0]), steering: tf.tensor1d([1, 1, 0, 0]) },
  }));
}

describe('buildStudent', () => {
  it('one output per head', () => {
    const student = buildStudent(heads, input);
    expect(student.outputNames).toEqual(['sign', 'blocked', 'steering']);
  });

  it('at most 10% of teacher parameters', () => {
    const teacher = buildStudent(heads, input, { widthMultiplier: 4 });
    const student = buildStudent(heads, input, { widthMultiplier: 0.5 });
    expect(student.countParams() / teacher.countParams()).toBeLessThanOrEqual(0.1);
  });

  it('widest width within parameter share', () => {
    const signHeads: HeadSpec[] = [
      { name: 'steering', kind: 'regression', role: 'primary', weight: 1 },
      { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: Array.from({ length: 43 }, (_, i) => String(i)) },
    ];
    const signInput: InputSpec = { ...input, width: 64, height: 64 };
    // 10% of the default teacher's 314,652 parameters: width 0.4 (29,293) fits, 0.45 (35,947) does not.
    expect(chooseWidth(signHeads, signInput, 314_652, 0.1)).toEqual({ width: 0.4, parameters: 29_293, fits: true });
    expect(chooseWidth(signHeads, signInput, 1000, 0.1).fits).toBe(false);
  });

  it('classification head without classes rejected', () => {
    expect(() => buildStudent([{ name: 'x', kind: 'classification', role: 'primary', weight: 1 }], input)).toThrow(/needs at least 2 classes/);
  });
});

describe('distill', () => {
  it('loss decreases and memory flat', async () => {
    const teacher = teacherModel();
    const student = buildStudent(heads, input, { widthMultiplier: 0.25, seed: 3 });
    const batches = makeBatches(3);
    const counts: number[] = [];
    const result = await distill(teacher, student, () => batches, {
      heads,
      epochs: 4,
      temperature: 2,
      alpha: 0.7,
      learningRate: 5e-3,
      onEpoch: () => counts.push(tf.memory().numTensors),
    });
    expect(result.epochLosses[3]!).toBeLessThan(result.epochLosses[0]!);
    expect(counts[3]).toBe(counts[1]);
  });

  it('augmented batches train and free tensors', async () => {
    const teacher = teacherModel();
    const student = buildStudent(heads, input, { widthMultiplier: 0.25, seed: 3 });
    const batches = makeBatches(3);
    const counts: number[] = [];
    const result = await distill(teacher, student, () => batches, {
      heads,
      epochs: 4,
      temperature: 2,
      alpha: 0.7,
      learningRate: 5e-3,
      augment: { config: { crop: 0.2, brightness: 0.2, noise: 2 }, input, seed: 4 },
      onEpoch: () => counts.push(tf.memory().numTensors),
    });
    expect(result.epochLosses.every(Number.isFinite)).toBe(true);
    expect(result.epochLosses[3]!).toBeLessThan(result.epochLosses[0]!);
    expect(counts[3]).toBe(counts[1]);
  });

  it('regression alpha 1 ignores labels', async () => {
    const losses: number[][] = [];
    for (const steering of [[0.1, -0.2, 0.3, 0], [2, 2, -2, -2]]) {
      const batches = makeBatches(2).map((batch) => ({ ...batch, labels: { ...batch.labels, steering: tf.tensor1d(steering) } }));
      const result = await distill(teacherModel(), buildStudent(heads, input, { widthMultiplier: 0.25, seed: 3 }), () => batches, {
        heads: heads.filter((head) => head.kind === 'regression'),
        epochs: 2,
        temperature: 2,
        alpha: 0,
        regressionAlpha: 1,
      });
      losses.push(result.epochLosses);
    }
    expect(losses[1]).toEqual(losses[0]);
  });

  it('alpha outside 0 to 1 rejected', async () => {
    const run = distill(teacherModel(), buildStudent(heads, input, { widthMultiplier: 0.25 }), () => makeBatches(1), {
      heads,
      epochs: 1,
      temperature: 2,
      alpha: 0.5,
      regressionAlpha: 1.5,
    });
    await expect(run).rejects.toThrow(/regressionAlpha must be in \[0, 1\]; got 1.5/);
  });

  it('invalid augmentation rejected', async () => {
    const run = distill(teacherModel(), buildStudent(heads, input, { widthMultiplier: 0.25 }), () => makeBatches(1), {
      heads,
      epochs: 1,
      temperature: 2,
      alpha: 0.5,
      augment: { config: { crop: 1.5, brightness: 0, noise: 0 }, input, seed: 1 },
    });
    await expect(run).rejects.toThrow(/crop must be in \[0, 1\)/);
  });

  it('hint loss trains with equal shapes', async () => {
    const teacher = buildStudent(heads, input, { widthMultiplier: 0.25, seed: 50 });
    const student = buildStudent(heads, input, { widthMultiplier: 0.25, seed: 3 });
    const batches = makeBatches(2);
    const result = await distill(teacher, student, () => batches, {
      heads,
      epochs: 3,
      temperature: 2,
      alpha: 0.5,
      learningRate: 5e-3,
      hint: { teacherLayer: 'block2_pw_relu', studentLayer: 'block2_pw_relu', weight: 1 },
    });
    expect(result.epochLosses[2]!).toBeLessThan(result.epochLosses[0]!);
  });

  it('hint layer shape mismatch rejected', async () => {
    const teacher = teacherModel();
    const student = buildStudent(heads, input, { widthMultiplier: 0.25 });
    const run = distill(teacher, student, () => makeBatches(1), {
      heads,
      epochs: 1,
      temperature: 2,
      alpha: 0.5,
      hint: { teacherLayer: 'stem_relu', studentLayer: 'stem_relu', weight: 1 },
    });
    await expect(run).rejects.toThrow(/Hint feature shapes differ/);
  });

  it('student exports and matches in litert', async () => {
    const student = buildStudent(heads, input, { widthMultiplier: 0.25, seed: 9 });
    const x = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 77);
    const expected = runTfjs(student, x);
    const out = await runTflite(exportTflite(student), 'litert', x);
    for (const head of heads) {
      expect(maxRelativeError(out[head.name]!, expected[head.name]!)).toBeLessThan(1e-4);
    }
  });
});
