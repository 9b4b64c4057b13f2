import { seededRandom, type HeadSpec, type InputSpec, type LabelValue, type Split } from '@fieldloop/contracts';
import type { DatasetStore, SnapshotRef } from '@fieldloop/dataset';
import * as tf from '@tensorflow/tfjs';
import type { DistillBatch } from '../kd/distill.ts';

/** One sample ready for the models: normalised NHWC pixels and a numeric target per head. */
export interface PreparedSample {
  id: string;
  /** `height * width * 3` floats, normalised with the InputSpec mean and std. */
  pixels: Float32Array;
  /** Per head: class index, 0/1, or the normalised regression value; null when the label is absent or unusable. */
  targets: Record<string, number | null>;
}

/**
 * Converts a label to the head's numeric target, or null when the sample has no usable label.
 * The conventions match the trainer's: class index in `classes`, 0/1 for booleans and their
 * string forms, and `(value - mean) / std` for regression.
 */
export function labelTarget(head: HeadSpec, value: LabelValue | undefined): number | null {
  if (value === undefined) return null;
  switch (head.kind) {
    case 'classification': {
      const index = head.classes?.indexOf(String(value)) ?? -1;
      return index >= 0 ? index : null;
    }
    case 'binary':
      if (value === true || value === 1 || value === 'true' || value === '1') return 1;
      if (value === false || value === 0 || value === 'false' || value === '0') return 0;
      return null;
    case 'regression': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return null;
      const { mean, std } = head.normalization ?? { mean: 0, std: 1 };
      return (value - mean) / std;
    }
  }
}

/** Normalises raw RGB bytes with the InputSpec, resizing bilinearly when the sizes differ. */
export function preparePixels(bytes: Uint8Array, width: number, height: number, input: InputSpec): Float32Array {
  return tf.tidy(() => {
    let image: tf.Tensor3D = tf.tensor3d(bytes, [height, width, 3], 'float32');
    if (width !== input.width || height !== input.height) {
      image = tf.image.resizeBilinear(image, [input.height, input.width]);
    }
    const normalised = tf.div(tf.sub(tf.div(image, 255), tf.tensor1d(input.mean)), tf.tensor1d(input.std));
    return normalised.dataSync() as Float32Array;
  });
}

export interface LoadStoreSamplesOptions {
  split: Split;
  heads: HeadSpec[];
  input: InputSpec;
  /** Reads at most this many samples, in store order. */
  limit?: number;
}

/** Reads the samples of one split of a snapshot as prepared samples. */
export async function loadStoreSamples(store: DatasetStore, snapshot: SnapshotRef, options: LoadStoreSamplesOptions): Promise<PreparedSample[]> {
  const samples: PreparedSample[] = [];
  for (const record of store.samples(snapshot, { split: options.split })) {
    if (options.limit !== undefined && samples.length >= options.limit) break;
    const bytes = new Uint8Array(await store.readInput(record));
    const targets: Record<string, number | null> = {};
    for (const head of options.heads) targets[head.name] = labelTarget(head, record.labels[head.name]);
    samples.push({ id: record.id, pixels: preparePixels(bytes, record.width, record.height, options.input), targets });
  }
  return samples;
}

/** Stacks prepared samples into one batch; labels of absent targets are 0 with mask 0. */
export function makeDistillBatch(samples: PreparedSample[], heads: HeadSpec[], input: InputSpec): DistillBatch {
  const size = input.height * input.width * 3;
  const pixels = new Float32Array(samples.length * size);
  samples.forEach((sample, i) => pixels.set(sample.pixels, i * size));
  const labels: Record<string, tf.Tensor1D> = {};
  const masks: Record<string, tf.Tensor1D> = {};
  for (const head of heads) {
    const targets = samples.map((s) => s.targets[head.name] ?? null);
    labels[head.name] = tf.tensor1d(targets.map((t) => t ?? 0), head.kind === 'classification' ? 'int32' : 'float32');
    masks[head.name] = tf.tensor1d(targets.map((t) => (t === null ? 0 : 1)));
  }
  return { inputs: tf.tensor4d(pixels, [samples.length, input.height, input.width, 3]), labels, masks };
}

/** Frees the tensors of a batch. */
export function disposeDistillBatch(batch: DistillBatch): void {
  batch.inputs.dispose();
  for (const tensor of Object.values(batch.labels)) tensor.dispose();
  for (const tensor of Object.values(batch.masks)) tensor.dispose();
}

/** Returns a seeded shuffle of 0..n-1 (mulberry32), so epochs are reproducible. */
export function seededOrder(n: number, seed: number): number[] {
  const next = seededRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Returns a batch source for `distill`: each call yields one epoch of shuffled batches (a new
 * seeded order per epoch) and frees each batch when the consumer requests the next one.
 */
export function batchSource(samples: PreparedSample[], heads: HeadSpec[], input: InputSpec, batchSize: number, seed: number): () => Iterable<DistillBatch> {
  let epoch = 0;
  return function* epochBatches(): Generator<DistillBatch> {
    const order = seededOrder(samples.length, seed + epoch++);
    for (let start = 0; start < order.length; start += batchSize) {
      const batch = makeDistillBatch(order.slice(start, start + batchSize).map((i) => samples[i]!), heads, input);
      try {
        yield batch;
      } finally {
        disposeDistillBatch(batch);
      }
    }
  };
}
