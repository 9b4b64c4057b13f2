import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { convertLayersModel } from '../src/tflite/convert-layers-model.ts';
import { activationQuantization, calibrateRanges, quantizeBias, quantizeChannels } from '../src/tflite/quantize.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('activationQuantization', () => {
  it('maps range ends to -128 and 127', () => {
    const q = activationQuantization(-1, 3);
    expect(q.scale).toBeCloseTo(4 / 255, 8);
    expect(Math.round(-1 / q.scale) + q.zeroPoint).toBe(-128);
    expect(Math.round(3 / q.scale) + q.zeroPoint).toBe(127);
  });

  it('widens range to include zero', () => {
    const q = activationQuantization(2, 6);
    expect(q.zeroPoint).toBe(-128);
    expect(q.scale).toBeCloseTo(6 / 255, 8);
  });
});

describe('quantizeChannels', () => {
  it('one scale per channel', () => {
    // Two channels interleaved: channel 0 spans ±1, channel 1 spans ±0.1.
    const weights = Float32Array.from([1, 0.1, -0.5, -0.1, 0.25, 0.05]);
    const q = quantizeChannels(weights, 2, (i) => i % 2);
    expect(q.scales[0]).toBeCloseTo(1 / 127, 8);
    expect(q.scales[1]).toBeCloseTo(0.1 / 127, 8);
    expect(Array.from(q.values)).toEqual([127, 127, -64, -127, 32, 64]);
  });

  it('bias scale is input times weight scale', () => {
    const bias = quantizeBias(Float32Array.from([0.5]), 0.01, Float32Array.from([0.1]));
    expect(bias[0]).toBe(500);
  });
});

describe('calibrateRanges', () => {
  it('records min and max per tensor', () => {
    const input = tf.input({ shape: [2] });
    const dense = tf.layers.dense({ units: 1, useBias: false, kernelInitializer: 'ones', name: 'out' }).apply(input) as tf.SymbolicTensor;
    const graph = convertLayersModel(tf.model({ inputs: input, outputs: dense }));
    const ranges = calibrateRanges(graph, [tf.tensor2d([[1, 2]]), tf.tensor2d([[-4, 1]])]);
    expect(ranges.get(graph.input.tensor)).toEqual({ min: -4, max: 2 });
    expect(ranges.get(graph.outputs[0]!.tensor)).toEqual({ min: -3, max: 3 });
  });
});
