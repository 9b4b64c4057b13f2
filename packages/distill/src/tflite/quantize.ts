import * as tf from '@tensorflow/tfjs';
import type { Graph } from './graph.ts';
import { runGraph } from './run-graph.ts';

/** Per-tensor asymmetric int8 parameters: `real = scale * (q - zeroPoint)`. */
export interface ActivationQuantization {
  scale: number;
  zeroPoint: number;
}

/** Per-channel symmetric int8 weights with one scale per output channel (zero point 0). */
export interface ChannelQuantization {
  values: Int8Array;
  scales: Float32Array;
}

/** Observed value range per graph tensor id, from calibration samples. */
export type TensorRanges = Map<number, { min: number; max: number }>;

/**
 * Runs calibration samples through the float graph one at a time (batch 1, as exported) and
 * records each tensor's min and max.
 */
export function calibrateRanges(graph: Graph, samples: Iterable<tf.Tensor>): TensorRanges {
  const ranges: TensorRanges = new Map();
  let count = 0;
  for (const sample of samples) {
    count++;
    const values = runGraph(graph, sample);
    for (const [id, value] of values) {
      const data = value.dataSync();
      let min = Infinity;
      let max = -Infinity;
      for (const v of data) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const range = ranges.get(id);
      ranges.set(id, range === undefined ? { min, max } : { min: Math.min(range.min, min), max: Math.max(range.max, max) });
      if (value !== sample) value.dispose();
    }
  }
  if (count === 0) {
    throw new Error('Int8 calibration got no samples; pass at least one representative input.');
  }
  return ranges;
}

/**
 * Smallest activation range that gets its own scale. Without it, tfjs-tflite rejected an int8
 * export of an untrained width-2 student ("no_integer_overflow_from_quantization" in
 * DEPTHWISE_CONV_2D); with it, the file loads.
 * NOTE: the cause assumed here (a near-constant tensor with a tiny scale) was not confirmed.
 */
const MIN_ACTIVATION_RANGE = 1e-3;

/** Returns int8 parameters covering `[min, max]` widened to include 0, as TFLite requires. */
export function activationQuantization(min: number, max: number): ActivationQuantization {
  const low = Math.min(0, min);
  let high = Math.max(0, max);
  if (high - low < MIN_ACTIVATION_RANGE) high = low + MIN_ACTIVATION_RANGE;
  const scale = (high - low) / 255;
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - low / scale)));
  return { scale, zeroPoint };
}

/**
 * Quantizes weights symmetrically per output channel. `channels` is the size of the channel
 * axis and `channelOf(i)` the channel of flat element i.
 */
export function quantizeChannels(weights: Float32Array, channels: number, channelOf: (i: number) => number): ChannelQuantization {
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < weights.length; i++) {
    const c = channelOf(i);
    maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(weights[i]!));
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scales[c] = maxAbs[c]! > 0 ? maxAbs[c]! / 127 : 1;
  }
  const values = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const q = Math.round(weights[i]! / scales[channelOf(i)]!);
    values[i] = Math.max(-127, Math.min(127, q));
  }
  return { values, scales };
}

/** Quantizes a bias to int32 with scale `inputScale * weightScale[c]` per channel. */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): Int32Array {
  const out = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    out[c] = Math.round(bias[c]! / (inputScale * weightScales[c]!));
  }
  return out;
}
