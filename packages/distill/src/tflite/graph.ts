/**
 * Intermediate graph between a tfjs LayersModel and a TFLite flatbuffer. Tensors are NHWC with a
 * fixed batch of 1. Weights keep the tfjs layouts: conv kernels HWIO `[kh, kw, in, out]`,
 * depthwise kernels `[kh, kw, in, multiplier]`, dense kernels `[in, out]`.
 */

export type FusedActivation = 'NONE' | 'RELU' | 'RELU6';

export interface GraphTensor {
  id: number;
  name: string;
  shape: number[];
}

interface OpBase {
  inputs: number[];
  output: number;
  /** Name of the tfjs layer the op came from, for error messages. */
  layer: string;
}

export interface Conv2DOp extends OpBase {
  kind: 'conv2d';
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  bias: Float32Array;
  strides: [number, number];
  dilation: [number, number];
  padding: 'SAME' | 'VALID';
  activation: FusedActivation;
}

export interface DepthwiseConv2DOp extends OpBase {
  kind: 'depthwise_conv2d';
  kernel: Float32Array;
  kernelShape: [number, number, number, number];
  bias: Float32Array;
  strides: [number, number];
  dilation: [number, number];
  padding: 'SAME' | 'VALID';
  activation: FusedActivation;
}

export interface DenseOp extends OpBase {
  kind: 'dense';
  kernel: Float32Array;
  kernelShape: [number, number];
  bias: Float32Array;
  activation: FusedActivation;
}

export interface AddOp extends OpBase {
  kind: 'add';
  activation: FusedActivation;
}

export interface ConcatOp extends OpBase {
  kind: 'concat';
  axis: number;
  activation: FusedActivation;
}

export interface AveragePoolOp extends OpBase {
  kind: 'average_pool';
  filter: [number, number];
}

export interface ReshapeOp extends OpBase {
  kind: 'reshape';
  newShape: number[];
}

export interface UnaryOp extends OpBase {
  kind: 'softmax' | 'logistic' | 'relu' | 'relu6';
}

export type GraphOp =
  | Conv2DOp
  | DepthwiseConv2DOp
  | DenseOp
  | AddOp
  | ConcatOp
  | AveragePoolOp
  | ReshapeOp
  | UnaryOp;

export interface GraphOutput {
  /** Output name in the signature; the tfjs output layer's name, which is the head name. */
  name: string;
  tensor: number;
}

export interface Graph {
  tensors: GraphTensor[];
  ops: GraphOp[];
  input: { name: string; tensor: number };
  outputs: GraphOutput[];
}

/** True for ops that take a fused activation. */
export function hasFusedActivation(op: GraphOp): op is Conv2DOp | DepthwiseConv2DOp | DenseOp | AddOp | ConcatOp {
  return (
    op.kind === 'conv2d' ||
    op.kind === 'depthwise_conv2d' ||
    op.kind === 'dense' ||
    op.kind === 'add' ||
    op.kind === 'concat'
  );
}
