import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import type { HeadTargets } from '../model/multitask-loss.ts';
import type { AugmentConfig, HeadConfig, SamplingPolicy, SourceKey } from '../model/teacher-config.ts';
import { augmentSample, type FlipRule } from './augment.ts';
import { labelTarget } from './head-specs.ts';
import type { LoadedSample } from './load-samples.ts';
import type { SeededRandom } from './seeded-random.ts';

/** Returns the source a sample belongs to for the sampling policy: its set of labelled heads, or its recording. */
export function sourceOf(sample: LoadedSample, key: SourceKey, heads: HeadSpec[]): string {
  if (key === 'recording') return sample.recording;
  const labelled = heads.filter((head) => sample.labels[head.name] !== undefined).map((head) => head.name);
  return labelled.length === 0 ? '(none)' : labelled.join('+');
}

/**
 * Splits one epoch into batches of sample indices. `proportional` shuffles all samples, so each
 * source appears in proportion to its size. `equal` gives every source the same share of each
 * batch, cycling through the smaller sources more than once per epoch.
 */
export function planEpoch(
  samples: LoadedSample[],
  batchSize: number,
  policy: SamplingPolicy,
  sourceKey: SourceKey,
  heads: HeadSpec[],
  random: SeededRandom,
): number[][] {
  const steps = Math.ceil(samples.length / batchSize);
  if (policy === 'proportional') {
    const order = random.shuffle(samples.map((_, index) => index));
    return Array.from({ length: steps }, (_, step) => order.slice(step * batchSize, (step + 1) * batchSize));
  }
  const bySource = new Map<string, number[]>();
  samples.forEach((sample, index) => {
    const key = sourceOf(sample, sourceKey, heads);
    const list = bySource.get(key) ?? [];
    list.push(index);
    bySource.set(key, list);
  });
  const sources = [...bySource.keys()].sort();
  const queues = sources.map((key) => random.shuffle([...(bySource.get(key) ?? [])]));
  const cursors = sources.map(() => 0);
  const batches: number[][] = [];
  for (let step = 0; step < steps; step++) {
    const batch: number[] = [];
    for (let slot = 0; slot < batchSize; slot++) {
      const sourceIndex = (step * batchSize + slot) % sources.length;
      const queue = queues[sourceIndex] ?? [];
      const cursor = cursors[sourceIndex] ?? 0;
      if (cursor >= queue.length) {
        random.shuffle(queue);
        cursors[sourceIndex] = 0;
      }
      batch.push(queue[cursors[sourceIndex] ?? 0] ?? 0);
      cursors[sourceIndex] = (cursors[sourceIndex] ?? 0) + 1;
    }
    batches.push(batch);
  }
  return batches;
}

export interface Batch {
  /** Normalised images, [batch, height, width, 3]. */
  x: tf.Tensor4D;
  targets: Record<string, HeadTargets>;
}

export interface AugmentOptions {
  config: AugmentConfig;
  flipRules: Record<string, FlipRule>;
  random: SeededRandom;
}

/** Builds the input tensor and the per-head targets and masks of a batch; the caller disposes them. */
export function makeBatch(samples: LoadedSample[], indices: number[], heads: HeadSpec[], input: InputSpec, augment?: AugmentOptions): Batch {
  const pixelsPerImage = input.width * input.height * 3;
  const images = new Float32Array(indices.length * pixelsPerImage);
  const values: Record<string, number[]> = {};
  const masks: Record<string, number[]> = {};
  for (const head of heads) {
    values[head.name] = [];
    masks[head.name] = [];
  }
  indices.forEach((sampleIndex, row) => {
    const sample = samples[sampleIndex];
    if (sample === undefined) throw new Error(`Batch index ${sampleIndex} is outside the ${samples.length} loaded samples.`);
    let { pixels, labels } = sample;
    if (augment !== undefined) {
      ({ pixels, labels } = augmentSample(pixels, labels, input.width, input.height, heads, augment.flipRules, augment.config, augment.random));
    }
    for (let i = 0; i < pixelsPerImage; i++) {
      const channel = i % 3;
      images[row * pixelsPerImage + i] = ((pixels[i] ?? 0) / 255 - input.mean[channel]!) / input.std[channel]!;
    }
    for (const head of heads) {
      const target = labelTarget(head, labels[head.name]);
      values[head.name]!.push(target ?? 0);
      masks[head.name]!.push(target === null ? 0 : 1);
    }
  });
  const targets: Record<string, HeadTargets> = {};
  for (const head of heads) {
    targets[head.name] = {
      values: tf.tensor1d(values[head.name]!, head.kind === 'classification' ? 'int32' : 'float32'),
      mask: tf.tensor1d(masks[head.name]!),
    };
  }
  return { x: tf.tensor4d(images, [indices.length, input.height, input.width, 3]), targets };
}

export function disposeBatch(batch: Batch): void {
  batch.x.dispose();
  for (const target of Object.values(batch.targets)) {
    target.values.dispose();
    target.mask.dispose();
  }
}

/** Builds each head's flip rule from the config, centring `negate` flips on `flipCenter` or the head's label mean. */
export function flipRulesOf(configHeads: HeadConfig[], heads: HeadSpec[]): Record<string, FlipRule> {
  const rules: Record<string, FlipRule> = {};
  for (const head of configHeads) {
    const mean = heads.find((spec) => spec.name === head.name)?.normalization?.mean ?? 0;
    rules[head.name] = { policy: head.flip, center: head.flipCenter ?? mean };
  }
  return rules;
}
