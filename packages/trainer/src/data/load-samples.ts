import type { LabelValue, Split } from '@fieldloop/contracts';
import type { DatasetStore, SnapshotRef } from '@fieldloop/dataset';
import * as tf from '@tensorflow/tfjs';

/** A sample in memory at the model's input size: pixels 0..255, row-major RGB. */
export interface LoadedSample {
  id: string;
  pixels: Float32Array;
  labels: Record<string, LabelValue>;
  tags: string[];
  recording: string;
  addedIn: number;
}

export interface LoadOptions {
  split: Split;
  width: number;
  height: number;
  /** Only samples added in this snapshot version. */
  addedIn?: number;
  /** Only samples with at least one label for these heads. */
  heads?: string[];
}

/** Resizes raw RGB bytes to width x height with bilinear interpolation (tf.image.resizeBilinear). */
export function resizeRgb(bytes: Uint8Array, fromWidth: number, fromHeight: number, width: number, height: number): Float32Array {
  if (fromWidth === width && fromHeight === height) return Float32Array.from(bytes);
  return tf.tidy(() => {
    const image = tf.tensor3d(bytes, [fromHeight, fromWidth, 3], 'int32').toFloat();
    return tf.image.resizeBilinear(image, [height, width]).dataSync() as Float32Array;
  });
}

/**
 * Reads a split of a snapshot into memory, resized to the model input.
 * NOTE: every sample stays in memory as float32 (48 KiB at 64x64), so about 20 000 samples take
 * 1 GiB; larger stores need streaming, which this loader does not do.
 */
export async function loadSamples(store: DatasetStore, snapshot: SnapshotRef, options: LoadOptions): Promise<LoadedSample[]> {
  const filter = options.addedIn === undefined ? { split: options.split } : { split: options.split, addedIn: options.addedIn };
  const samples: LoadedSample[] = [];
  for (const record of store.samples(snapshot, filter)) {
    if (options.heads !== undefined && !options.heads.some((head) => record.labels[head] !== undefined)) continue;
    const bytes = await store.readInput(record);
    const expected = record.width * record.height * 3;
    if (bytes.length !== expected) {
      throw new Error(`Sample ${record.id} has ${bytes.length} input bytes, expected ${expected} for ${record.width}x${record.height} RGB. The store may be damaged.`);
    }
    samples.push({
      id: record.id,
      pixels: resizeRgb(bytes, record.width, record.height, options.width, options.height),
      labels: record.labels,
      tags: record.tags,
      recording: record.source.recording,
      addedIn: record.addedIn,
    });
  }
  return samples;
}
