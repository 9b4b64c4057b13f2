import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs';

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
type Pad = 'valid' | 'same' | number | ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

/** Names of the gradient kernels that tfjs-backend-wasm 4.22 lacks and this module adds. */
export const WASM_GRADIENT_KERNELS = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'UnsortedSegmentSum',
] as const;

/**
 * Registers the missing gradient kernels for the `wasm` backend, built from ops that the backend
 * has (convolutions, transposes, pads, matrix products), and replaces its Conv2DBackpropInput with
 * a faster one built the same way. Calling it twice is harmless.
 */
export function registerWasmGradientKernels(backendName = 'wasm'): string[] {
  const configs: KernelConfig[] = [
    { kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: conv2dBackpropFilter },
    { kernelName: 'DepthwiseConv2dNativeBackpropFilter', backendName, kernelFunc: depthwiseBackpropFilter },
    { kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName, kernelFunc: depthwiseBackpropInput },
    { kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: unsortedSegmentSum },
  ];
  const registered: string[] = [];
  for (const config of configs) {
    if (tf.getKernel(config.kernelName, backendName) !== undefined) continue;
    tf.registerKernel(config);
    registered.push(config.kernelName);
  }
  const builtIn = tf.getKernel('Conv2DBackpropInput', backendName);
  if (builtIn !== undefined && builtIn.kernelFunc !== conv2dBackpropInput) {
    tf.unregisterKernel('Conv2DBackpropInput', backendName);
    tf.registerKernel({ kernelName: 'Conv2DBackpropInput', backendName, kernelFunc: conv2dBackpropInput });
    registered.push('Conv2DBackpropInput');
  }
  return registered;
}

interface KernelArgs {
  inputs: NamedTensorInfoMap;
  /** The kernel's backend; tfjs types it as `{}` in KernelFunc. */
  backend: object;
  attrs?: NamedAttrMap;
}

/**
 * Runs `body` on tensors wrapping the kernel's inputs and returns its result, kept out of the
 * tidy so that the engine takes it as the kernel's output. Inputs that arrive as bare TensorInfo
 * get a reference on their data first, because disposing the wrapper would otherwise free the
 * caller's buffer.
 */
function runOnTensors(
  args: KernelArgs,
  names: [string, string],
  body: (inputs: [tf.Tensor, tf.Tensor]) => tf.Tensor,
): tf.Tensor {
  const wrappers: tf.Tensor[] = [];
  const wrap = (name: string): tf.Tensor => {
    const info = args.inputs[name];
    if (info === undefined) throw new Error(`Kernel input '${name}' is missing.`);
    if (info instanceof tf.Tensor) return info;
    (args.backend as KernelBackend).incRef(info.dataId);
    const wrapper = tf.engine().makeTensorFromTensorInfo(info);
    wrappers.push(wrapper);
    return wrapper;
  };
  const inputs: [tf.Tensor, tf.Tensor] = [wrap(names[0]), wrap(names[1])];
  try {
    return tf.tidy(() => body(inputs));
  } finally {
    for (const wrapper of wrappers) wrapper.dispose();
  }
}

function attr<T>(attrs: NamedAttrMap | undefined, name: string): T {
  return (attrs ?? {})[name] as T;
}

function pair(value: [number, number] | number | undefined): [number, number] {
  if (value === undefined) return [1, 1];
  return typeof value === 'number' ? [value, value] : value;
}

function padTensor(x: tf.Tensor4D, padInfo: { top: number; bottom: number; left: number; right: number }): tf.Tensor4D {
  if (padInfo.top === 0 && padInfo.bottom === 0 && padInfo.left === 0 && padInfo.right === 0) return x;
  return tf.pad(x, [
    [0, 0],
    [padInfo.top, padInfo.bottom],
    [padInfo.left, padInfo.right],
    [0, 0],
  ]);
}

function checkChannelsLast(dataFormat: string | undefined, kernelName: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} on wasm supports dataFormat 'NHWC' only, got '${dataFormat}'. Use channels-last layers.`);
  }
}

/**
 * dW[a, b, ci, co] = sum over n, i, j of xPadded[n, i*s + a, j*s + b, ci] * dy[n, i, j, co].
 * This is itself a convolution, which the backend runs fast: with channels and batch swapped,
 * x^T = [Cin, H, W, N] convolved with dy^T = [outH, outW, N, Cout] as the filter, stride 1 and
 * dilation s, gives [Cin, fh, fw, Cout].
 */
function conv2dBackpropFilter(args: KernelArgs): TensorInfo {
  checkChannelsLast(attr<string | undefined>(args.attrs, 'dataFormat'), 'Conv2DBackpropFilter');
  const filterShape = attr<[number, number, number, number]>(args.attrs, 'filterShape');
  return runOnTensors(args, ['x', 'dy'], ([x, dy]) => {
    const x4 = x as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(
      x4.shape,
      filterShape,
      pair(attr(args.attrs, 'strides')),
      1,
      attr<Pad>(args.attrs, 'pad'),
      attr<RoundingMode>(args.attrs, 'dimRoundingMode'),
    );
    const [fh, fw, cin] = filterShape;
    // Rows and columns that some tap reads; the rest of the padded input does not contribute.
    const usedHeight = fh + (info.outHeight - 1) * info.strideHeight;
    const usedWidth = fw + (info.outWidth - 1) * info.strideWidth;
    const xUsed = tf.slice(padTensor(x4, info.padInfo), [0, 0, 0, 0], [x4.shape[0], usedHeight, usedWidth, cin]);
    const xSwapped = tf.transpose(xUsed, [3, 1, 2, 0]) as tf.Tensor4D;
    const dySwapped = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const gradient = tf.conv2d(xSwapped, dySwapped, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    return tf.transpose(gradient, [1, 2, 0, 3]);
  }) as TensorInfo;
}

/**
 * dW[a, b, c, m] = sum over n, i, j of xPadded[n, i*s + a*d, j*s + b*d, c] * dy[n, i, j, c*M + m].
 * For each channel c this is a convolution over the batch, so all channels together form one
 * depthwise convolution. Its input is [1, H, W, C*N] with channel (c, n), its filter is dy as
 * [outH, outW, C*N, M] with dilation s, and a sum over n follows.
 */
function depthwiseBackpropFilter(args: KernelArgs): TensorInfo {
  const filterShape = attr<[number, number, number, number]>(args.attrs, 'filterShape');
  const dilations = pair(attr(args.attrs, 'dilations'));
  if (dilations[0] !== 1 || dilations[1] !== 1) {
    throw new Error(
      `DepthwiseConv2dNativeBackpropFilter on wasm supports dilations of 1 only, got [${dilations.join(', ')}].`,
    );
  }
  return runOnTensors(args, ['x', 'dy'], ([x, dy]) => {
    const x4 = x as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(
      x4.shape,
      filterShape,
      pair(attr(args.attrs, 'strides')),
      1,
      attr<Pad>(args.attrs, 'pad'),
      attr<RoundingMode>(args.attrs, 'dimRoundingMode'),
      true,
    );
    const [fh, fw, channels, multiplier] = filterShape;
    const batch = x4.shape[0];
    const usedHeight = fh + (info.outHeight - 1) * info.strideHeight;
    const usedWidth = fw + (info.outWidth - 1) * info.strideWidth;
    const xUsed = tf.slice(padTensor(x4, info.padInfo), [0, 0, 0, 0], [batch, usedHeight, usedWidth, channels]);
    const xByChannel = tf.transpose(xUsed, [1, 2, 3, 0]).reshape([1, usedHeight, usedWidth, channels * batch]) as tf.Tensor4D;
    const dyByChannel = tf
      .transpose((dy as tf.Tensor4D).reshape([batch, info.outHeight, info.outWidth, channels, multiplier]), [1, 2, 3, 0, 4])
      .reshape([info.outHeight, info.outWidth, channels * batch, multiplier]) as tf.Tensor4D;
    const perSample = tf.depthwiseConv2d(xByChannel, dyByChannel, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]);
    return perSample.reshape([fh, fw, channels, batch, multiplier]).sum(3);
  }) as TensorInfo;
}

/**
 * Spreads dy for a transposed convolution: inserts stride - 1 zeros between its rows and columns
 * and pads it so that a stride-1 'valid' convolution with the 180°-rotated filter returns the
 * input gradient. With padded top row p_t, output row p then reads dy rows i with
 * i * s = p + p_t - a, which is the chain rule of the forward convolution.
 */
function spreadForTransposedConv(dy: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [n, outHeight, outWidth, channels] = dy.shape;
  const sh = info.strideHeight;
  const sw = info.strideWidth;
  let spread = dy;
  if (sh > 1 || sw > 1) {
    const interleaved = tf.pad(dy.reshape([n, outHeight, 1, outWidth, 1, channels]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    spread = tf.slice(interleaved.reshape([n, outHeight * sh, outWidth * sw, channels]), [0, 0, 0, 0], [
      n,
      (outHeight - 1) * sh + 1,
      (outWidth - 1) * sw + 1,
      channels,
    ]) as tf.Tensor4D;
  }
  const fh = info.filterHeight;
  const fw = info.filterWidth;
  return tf.pad(spread, [
    [0, 0],
    [fh - 1 - info.padInfo.top, info.inHeight + info.padInfo.top - (outHeight - 1) * sh - 1],
    [fw - 1 - info.padInfo.left, info.inWidth + info.padInfo.left - (outWidth - 1) * sw - 1],
    [0, 0],
  ]);
}

/**
 * dx of a convolution as a stride-1 convolution of the spread dy with the filter rotated by 180°
 * and its in and out channels swapped. It replaces tfjs-backend-wasm 4.22's own
 * Conv2DBackpropInput, a direct loop that is several times slower than its XNNPACK Conv2D.
 */
function conv2dBackpropInput(args: KernelArgs): TensorInfo {
  checkChannelsLast(attr<string | undefined>(args.attrs, 'dataFormat'), 'Conv2DBackpropInput');
  const inputShape = attr<[number, number, number, number]>(args.attrs, 'inputShape');
  return runOnTensors(args, ['dy', 'filter'], ([dy, filter]) => {
    const filter4 = filter as tf.Tensor4D;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter4.shape,
      pair(attr(args.attrs, 'strides')),
      1,
      attr<Pad>(args.attrs, 'pad'),
      attr<RoundingMode>(args.attrs, 'dimRoundingMode'),
    );
    const rotated = tf.transpose(tf.reverse(filter4, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(spreadForTransposedConv(dy as tf.Tensor4D, info), rotated, 1, 'valid');
  }) as TensorInfo;
}

/**
 * dx of a depthwise convolution: a depthwise convolution of the spread dy (C*M channels) with the
 * rotated filter, summed over the M outputs of each input channel.
 */
function depthwiseBackpropInput(args: KernelArgs): TensorInfo {
  const inputShape = attr<[number, number, number, number]>(args.attrs, 'inputShape');
  const dilations = pair(attr(args.attrs, 'dilations'));
  if (dilations[0] !== 1 || dilations[1] !== 1) {
    throw new Error(
      `DepthwiseConv2dNativeBackpropInput on wasm supports dilations of 1 only, got [${dilations.join(', ')}].`,
    );
  }
  return runOnTensors(args, ['dy', 'filter'], ([dy, filter]) => {
    const filter4 = filter as tf.Tensor4D;
    const [fh, fw, channels, multiplier] = filter4.shape;
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter4.shape,
      pair(attr(args.attrs, 'strides')),
      1,
      attr<Pad>(args.attrs, 'pad'),
      attr<RoundingMode>(args.attrs, 'dimRoundingMode'),
      true,
    );
    const rotated = tf.reverse(filter4, [0, 1]).reshape([fh, fw, channels * multiplier, 1]) as tf.Tensor4D;
    const perOutput = tf.depthwiseConv2d(spreadForTransposedConv(dy as tf.Tensor4D, info), rotated, 1, 'valid');
    const [n, height, width] = inputShape;
    return perOutput.reshape([n, height, width, channels, multiplier]).sum(4);
  }) as TensorInfo;
}

/** out[k, ...] = sum of x[i, ...] over every i whose segment id is k; ids outside [0, numSegments) are dropped. */
function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const numSegments = attr<number>(args.attrs, 'numSegments');
  return runOnTensors(args, ['x', 'segmentIds'], ([x, segmentIds]) => {
    const ids = segmentIds.flatten().toInt();
    const count = ids.shape[0];
    const rest = x.shape.slice(segmentIds.rank);
    const values = x.reshape([count, rest.reduce((product, size) => product * size, 1)]).toFloat();
    const oneHot = tf.oneHot(ids, numSegments).toFloat();
    const sums = tf.matMul(oneHot, values, true, false).reshape([numSegments, ...rest]);
    return x.dtype === 'float32' ? sums : sums.round().cast(x.dtype);
  }) as TensorInfo;
}
