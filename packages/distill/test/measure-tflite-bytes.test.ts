import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import * as flatbuffers from 'flatbuffers';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStudent, exportTflite, readTfliteInfo } from '../src/index.ts';
import { measureTfliteBytes } from '../src/tflite/measure-tflite-bytes.ts';
import { field, tableVector } from '../src/tflite/read-tflite.ts';
import { TensorType } from '../src/tflite/schema.ts';
import { writeTfliteModel, type TfliteModelData } from '../src/tflite/write-flatbuffer.ts';
import { maxAbsoluteError, runTflite, runTfjs, seededInput } from './helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const heads: HeadSpec[] = [
  { name: 'steering', kind: 'regression', role: 'primary', weight: 1, normalization: { mean: 90, std: 8 } },
  { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: Array.from({ length: 43 }, (_, i) => String(i)) },
];
const input: InputSpec = { width: 32, height: 32, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

function sumOfParts(b: ReturnType<typeof measureTfliteBytes>): number {
  return b.tensorData + b.metadata + b.tensorNames + b.quantizationScales + b.quantizationZeroPoints + b.other;
}

/** Three constant int8 tensors; the first two have equal quantization parameters. */
function modelWithQuantizedTensors(): TfliteModelData {
  const perChannel = (scale: number[]) => ({ scale, zeroPoint: scale.map(() => 0), quantizedDimension: 0 });
  const weights = new Uint8Array([1, 2]);
  return {
    description: 'shared quantization',
    tensors: [
      { name: 'a', shape: [2], type: TensorType.INT8, buffer: 1, quantization: perChannel([0.5, 0.25]) },
      { name: 'b', shape: [2], type: TensorType.INT8, buffer: 2, quantization: perChannel([0.5, 0.25]) },
      { name: 'c', shape: [2], type: TensorType.INT8, buffer: 3, quantization: perChannel([2, 4]) },
    ],
    buffers: [new Uint8Array(0), weights, weights, weights],
    operators: [],
    inputs: [],
    outputs: [],
    metadata: [{ name: 'card', data: new TextEncoder().encode('{}') }],
  };
}

describe('writeTfliteModel vector sharing', () => {
  it('equal zero points written once', () => {
    const bytes = writeTfliteModel(modelWithQuantizedTensors());
    const breakdown = measureTfliteBytes(bytes);
    // One int64 vector of length 2 (4-byte length prefix) serves all three tensors.
    expect(breakdown.quantizationZeroPoints).toBe(4 + 2 * 8);
    // Two distinct float32 scale vectors of length 2.
    expect(breakdown.quantizationScales).toBe(2 * (4 + 2 * 4));
  });

  it('shared vectors read per tensor', () => {
    const info = readTfliteInfo(writeTfliteModel(modelWithQuantizedTensors()));
    expect(info.tensors.map((t) => t.scaleCount)).toEqual([2, 2, 2]);
  });

  it('equal shapes written once', () => {
    const bytes = writeTfliteModel(modelWithQuantizedTensors());
    const bb = new flatbuffers.ByteBuffer(bytes);
    const model = bb.readInt32(bb.position()) + bb.position();
    const tensors = tableVector(bb, model, 2).flatMap((subgraph) => tableVector(bb, subgraph, 0));
    const shapeStarts = tensors.map((tensor) => bb.__vector(tensor + field(bb, tensor, 0)));
    expect(new Set(shapeStarts).size).toBe(1);
  });
});

describe('writeTfliteModel defaults', () => {
  const model: TfliteModelData = {
    description: 'defaults',
    tensors: [
      { name: 'x', shape: [1, 2], type: TensorType.FLOAT32, buffer: 0 },
      { name: '', shape: [2], type: TensorType.INT32, buffer: 1 },
    ],
    buffers: [new Uint8Array(0), new Uint8Array(8)],
    operators: [],
    inputs: [{ name: 'x', tensor: 0 }],
    outputs: [],
    metadata: [],
  };
  const bytes = writeTfliteModel(model);
  const bb = new flatbuffers.ByteBuffer(bytes);
  const root = bb.readInt32(bb.position()) + bb.position();
  const tensors = tableVector(bb, tableVector(bb, root, 2)[0]!, 0);

  it('default-valued fields left out', () => {
    // Tensor field 1 is the type (default FLOAT32), field 2 the buffer (default 0).
    expect(field(bb, tensors[0]!, 1)).toBe(0);
    expect(field(bb, tensors[0]!, 2)).toBe(0);
    expect(field(bb, tensors[1]!, 1)).not.toBe(0);
    expect(field(bb, tensors[1]!, 2)).not.toBe(0);
  });

  it('empty name left out', () => {
    expect(field(bb, tensors[0]!, 3)).not.toBe(0);
    expect(field(bb, tensors[1]!, 3)).toBe(0);
  });

  it('defaults read back as schema values', () => {
    const info = readTfliteInfo(bytes);
    expect(info.tensors.map((t) => t.type)).toEqual([TensorType.FLOAT32, TensorType.INT32]);
    expect(info.tensors.map((t) => t.name)).toEqual(['x', '']);
  });
});

describe('measureTfliteBytes', () => {
  const student = buildStudent(heads, input, { widthMultiplier: 0.25, seed: 5 });
  const card = { heads, input };
  const float = exportTflite(student, { modelCard: card });
  const calibration = [0, 1, 2, 3, 4, 5, 6, 7].map((s) => seededInput([1, 32, 32, 3], 500 + s));
  const int8 = exportTflite(student, { modelCard: card, calibration });

  it('parts add up to file size', () => {
    for (const bytes of [float, int8]) {
      const breakdown = measureTfliteBytes(bytes);
      expect(breakdown.total).toBe(bytes.length);
      expect(sumOfParts(breakdown)).toBe(bytes.length);
      expect(breakdown.other).toBeGreaterThan(0);
    }
  });

  it('metadata is the model card', () => {
    const json = new TextEncoder().encode(JSON.stringify(card));
    expect(measureTfliteBytes(int8).metadata).toBe(json.length);
    expect(measureTfliteBytes(float).metadata).toBe(json.length);
  });

  it('int8 keeps no float weights', () => {
    const floatData = measureTfliteBytes(float).tensorData;
    const int8Data = measureTfliteBytes(int8).tensorData;
    // int8 weights are a quarter of float32; int32 biases and shape tensors keep their size.
    expect(int8Data).toBeLessThan(0.3 * floatData);
    expect(measureTfliteBytes(float).quantizationScales).toBe(0);
  });

  it('int8 zero points one per channel count', () => {
    const info = readTfliteInfo(int8);
    const perChannelLengths = new Set(info.tensors.filter((t) => t.scaleCount > 1).map((t) => t.scaleCount));
    const perTensorCount = info.tensors.filter((t) => t.scaleCount === 1).length;
    const sharedBound = [...perChannelLengths].reduce((sum, n) => sum + 4 + 8 * n, 0) + perTensorCount * (4 + 8);
    expect(measureTfliteBytes(int8).quantizationZeroPoints).toBeLessThanOrEqual(sharedBound);
  });

  it('shared-vector int8 file runs in both runtimes', async () => {
    const x = seededInput([1, 32, 32, 3], 503);
    const expected = runTfjs(student, x);
    const litert = await runTflite(int8, 'litert', x);
    const tfjsTflite = await runTflite(int8, 'tfjs-tflite', x);
    for (const head of heads) {
      const values = expected[head.name]!;
      const range = Math.max(...values.map(Math.abs), 1e-3);
      expect(maxAbsoluteError(litert[head.name]!, values) / range, `${head.name} on litert`).toBeLessThan(0.08);
      expect(maxAbsoluteError(tfjsTflite[head.name]!, values) / range, `${head.name} on tfjs-tflite`).toBeLessThan(0.08);
    }
  });

  it('only signature tensors named', () => {
    for (const bytes of [float, int8]) {
      const info = readTfliteInfo(bytes);
      const named = info.tensors.flatMap((t, i) => (t.name === '' ? [] : [i]));
      expect(named.sort((a, b) => a - b)).toEqual([...info.inputs, ...info.outputs].sort((a, b) => a - b));
      expect(info.inputs.map((i) => info.tensors[i]!.name)).toEqual(['image']);
      expect(info.outputs.map((i) => info.tensors[i]!.name)).toEqual(heads.map((h) => h.name));
    }
  });

  it('all names kept on request', () => {
    const info = readTfliteInfo(exportTflite(student, { modelCard: card, calibration, tensorNames: 'all' }));
    expect(info.tensors.every((t) => t.name !== '')).toBe(true);
    expect(info.tensors.map((t) => t.name)).toContain('stem_conv/kernel');
  });

  it('non-TFLite data rejected', () => {
    expect(() => measureTfliteBytes(new Uint8Array(16))).toThrow(/not a TFLite model/);
  });
});
