import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select-backend.ts';

const TOLERANCE = 1e-4;

function randomValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 32 - 0.5;
  }
  return values;
}

type Inputs = Record<string, { values: Float32Array | Int32Array; shape: number[]; dtype: 'float32' | 'int32' }>;

/** Runs one kernel on a backend and returns its output values and shape. */
async function runOn(
  backend: 'cpu' | 'wasm',
  kernelName: string,
  inputs: Inputs,
  attrs: Record<string, unknown>,
): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, spec] of Object.entries(inputs)) tensors[name] = tf.tensor(spec.values, spec.shape, spec.dtype);
  const out = tf.engine().runKernel(kernelName, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = Float32Array.from(await out.data());
  const shape = out.shape;
  out.dispose();
  for (const tensor of Object.values(tensors)) tensor.dispose();
  return { values, shape };
}

function maxRelativeError(actual: Float32Array, expected: Float32Array): number {
  let scale = 1e-6;
  for (const value of expected) scale = Math.max(scale, Math.abs(value));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((actual[i] ?? NaN) - (expected[i] ?? 0)));
  return worst / scale;
}

function outputSize(size: number, filter: number, stride: number, pad: 'same' | 'valid'): number {
  return pad === 'same' ? Math.ceil(size / stride) : Math.floor((size - filter) / stride) + 1;
}

const convCases: Array<{ filter: number; stride: number; pad: 'same' | 'valid' }> = [];
for (const filter of [1, 3, 5]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) convCases.push({ filter, stride, pad });
  }
}

describe('wasm gradient kernels', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it.each(convCases)('Conv2DBackpropFilter f$filter s$stride $pad', async ({ filter, stride, pad }) => {
    const [n, h, w, cin, cout] = [3, 9, 8, 4, 5];
    const oh = outputSize(h, filter, stride, pad);
    const ow = outputSize(w, filter, stride, pad);
    const inputs: Inputs = {
      x: { values: randomValues(n * h * w * cin, 1), shape: [n, h, w, cin], dtype: 'float32' },
      dy: { values: randomValues(n * oh * ow * cout, 2), shape: [n, oh, ow, cout], dtype: 'float32' },
    };
    const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', filterShape: [filter, filter, cin, cout] };
    const expected = await runOn('cpu', 'Conv2DBackpropFilter', inputs, attrs);
    const actual = await runOn('wasm', 'Conv2DBackpropFilter', inputs, attrs);
    expect(actual.shape).toEqual(expected.shape);
    expect(maxRelativeError(actual.values, expected.values)).toBeLessThan(TOLERANCE);
  });

  it.each(convCases)('Conv2DBackpropInput f$filter s$stride $pad', async ({ filter, stride, pad }) => {
    const [n, h, w, cin, cout] = [3, 9, 8, 4, 5];
    const oh = outputSize(h, filter, stride, pad);
    const ow = outputSize(w, filter, stride, pad);
    const inputs: Inputs = {
      dy: { values: randomValues(n * oh * ow * cout, 13), shape: [n, oh, ow, cout], dtype: 'float32' },
      filter: { values: randomValues(filter * filter * cin * cout, 14), shape: [filter, filter, cin, cout], dtype: 'float32' },
    };
    const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', inputShape: [n, h, w, cin] };
    const expected = await runOn('cpu', 'Conv2DBackpropInput', inputs, attrs);
    const actual = await runOn('wasm', 'Conv2DBackpropInput', inputs, attrs);
    expect(actual.shape).toEqual(expected.shape);
    expect(maxRelativeError(actual.values, expected.values)).toBeLessThan(TOLERANCE);
  });

  const depthwiseCases = convCases.flatMap((c) => [1, 2].map((multiplier) => ({ ...c, multiplier })));

  it.each(depthwiseCases)(
    'DepthwiseConv2dNativeBackpropFilter f$filter s$stride $pad m$multiplier',
    async ({ filter, stride, pad, multiplier }) => {
      const [n, h, w, c] = [2, 9, 7, 3];
      const oh = outputSize(h, filter, stride, pad);
      const ow = outputSize(w, filter, stride, pad);
      const inputs: Inputs = {
        x: { values: randomValues(n * h * w * c, 3), shape: [n, h, w, c], dtype: 'float32' },
        dy: { values: randomValues(n * oh * ow * c * multiplier, 4), shape: [n, oh, ow, c * multiplier], dtype: 'float32' },
      };
      const attrs = { strides: [stride, stride], dilations: [1, 1], pad, filterShape: [filter, filter, c, multiplier] };
      const expected = await runOn('cpu', 'DepthwiseConv2dNativeBackpropFilter', inputs, attrs);
      const actual = await runOn('wasm', 'DepthwiseConv2dNativeBackpropFilter', inputs, attrs);
      expect(actual.shape).toEqual(expected.shape);
      expect(maxRelativeError(actual.values, expected.values)).toBeLessThan(TOLERANCE);
    },
  );

  it.each(depthwiseCases)(
    'DepthwiseConv2dNativeBackpropInput f$filter s$stride $pad m$multiplier',
    async ({ filter, stride, pad, multiplier }) => {
      const [n, h, w, c] = [2, 9, 7, 3];
      const oh = outputSize(h, filter, stride, pad);
      const ow = outputSize(w, filter, stride, pad);
      const inputs: Inputs = {
        dy: { values: randomValues(n * oh * ow * c * multiplier, 5), shape: [n, oh, ow, c * multiplier], dtype: 'float32' },
        filter: { values: randomValues(filter * filter * c * multiplier, 6), shape: [filter, filter, c, multiplier], dtype: 'float32' },
      };
      const attrs = { strides: [stride, stride], dilations: [1, 1], pad, inputShape: [n, h, w, c] };
      const expected = await runOn('cpu', 'DepthwiseConv2dNativeBackpropInput', inputs, attrs);
      const actual = await runOn('wasm', 'DepthwiseConv2dNativeBackpropInput', inputs, attrs);
      expect(actual.shape).toEqual(expected.shape);
      expect(maxRelativeError(actual.values, expected.values)).toBeLessThan(TOLERANCE);
    },
  );

  it('UnsortedSegmentSum matches cpu', async () => {
    const inputs: Inputs = {
      x: { values: randomValues(6 * 2 * 3, 7), shape: [6, 2, 3], dtype: 'float32' },
      segmentIds: { values: Int32Array.from([2, 0, 2, 3, -1, 0]), shape: [6], dtype: 'int32' },
    };
    const expected = await runOn('cpu', 'UnsortedSegmentSum', inputs, { numSegments: 4 });
    const actual = await runOn('wasm', 'UnsortedSegmentSum', inputs, { numSegments: 4 });
    expect(actual.shape).toEqual([4, 2, 3]);
    expect(maxRelativeError(actual.values, expected.values)).toBeLessThan(TOLERANCE);
  });

  it('gather gradient runs on wasm', async () => {
    await tf.setBackend('wasm');
    const table = tf.tensor2d(randomValues(12, 8), [4, 3]);
    const indices = tf.tensor1d([1, 3, 1], 'int32');
    const gradient = tf.grad((t: tf.Tensor) => tf.gather(t, indices).sum())(table);
    expect(Array.from(await gradient.data())).toEqual([0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1]);
    tf.dispose([table, indices, gradient]);
  });

  it('kernel keeps caller buffer alive', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomValues(2 * 5 * 5 * 2, 9), [2, 5, 5, 2]);
    const dy = tf.tensor4d(randomValues(2 * 5 * 5 * 3, 10), [2, 5, 5, 3]);
    const before = Array.from(await x.data());
    const kernel = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    if (kernel === undefined) throw new Error('Conv2DBackpropFilter is not registered for wasm.');
    const info = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    const out = kernel.kernelFunc({
      inputs: { x: info(x), dy: info(dy) },
      backend: tf.backend(),
      attrs: { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3] },
    }) as tf.Tensor;
    expect(Array.from(await x.data())).toEqual(before);
    tf.dispose([x, dy, out]);
  });

  it('conv2d training gradient matches cpu', async () => {
    const xValues = randomValues(2 * 8 * 8 * 3, 11);
    const filterValues = randomValues(3 * 3 * 3 * 4, 12);
    const gradients = async (backend: 'cpu' | 'wasm'): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xValues, [2, 8, 8, 3]);
      const filter = tf.tensor4d(filterValues, [3, 3, 3, 4]);
      const loss = (a: tf.Tensor, b: tf.Tensor): tf.Tensor =>
        tf.depthwiseConv2d(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), tf.ones([3, 3, 4, 1]), 1, 'same').square().sum();
      const grads = tf.grads(loss)([x, filter]);
      const values = await Promise.all(grads.map(async (g) => Float32Array.from(await g.data())));
      tf.dispose([x, filter, ...grads]);
      return values;
    };
    const expected = await gradients('cpu');
    const actual = await gradients('wasm');
    expect(maxRelativeError(actual[0] ?? new Float32Array(), expected[0] ?? new Float32Array())).toBeLessThan(TOLERANCE);
    expect(maxRelativeError(actual[1] ?? new Float32Array(), expected[1] ?? new Float32Array())).toBeLessThan(TOLERANCE);
  });
});
