import type * as tf from '@tensorflow/tfjs';
import type { FusedActivation, Graph, GraphOp, GraphTensor } from './graph.ts';
import { hasFusedActivation } from './graph.ts';

/** Raised when a layer, activation or configuration has no TFLite equivalent in the exporter. */
export class UnsupportedLayerError extends Error {
  constructor(
    readonly layerName: string,
    readonly layerClass: string,
    reason: string,
  ) {
    super(`Cannot export layer '${layerName}' (${layerClass}): ${reason}`);
    this.name = 'UnsupportedLayerError';
  }
}

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;

/** Layer classes the exporter handles; every other class raises `UnsupportedLayerError`. */
export const SUPPORTED_LAYER_CLASSES = [
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'Dense',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'Softmax',
  'Add',
  'Concatenate',
  'GlobalAveragePooling2D',
  'Flatten',
  'Reshape',
  'Dropout',
] as const;

interface ConvertState {
  graph: Graph;
  /** Graph tensor id per tfjs symbolic tensor id. */
  tensorOf: Map<number, number>;
  /** Op that produced each graph tensor. */
  producer: Map<number, GraphOp>;
  /** Number of layers (and model outputs) that read each tfjs symbolic tensor. */
  consumers: Map<number, number>;
}

/**
 * Converts a tfjs LayersModel with one image input into the exporter's graph: batch norm is folded
 * into the preceding convolution or dense layer, and ReLU/ReLU6 are fused into the op before them
 * when that op's output has no other reader.
 */
export function convertLayersModel(model: tf.LayersModel): Graph {
  if (model.inputs.length !== 1) {
    throw new Error(`Cannot export model '${model.name}': it has ${model.inputs.length} inputs, and the exporter supports exactly one.`);
  }
  const modelInput = model.inputs[0]!;
  const inputShape = concreteShape(modelInput.shape, 'input', 'InputLayer');
  const state: ConvertState = {
    graph: { tensors: [], ops: [], input: { name: modelInput.name.replace(/\/.*$/, ''), tensor: 0 }, outputs: [] },
    tensorOf: new Map(),
    producer: new Map(),
    consumers: countConsumers(model),
  };
  const inputTensor = addTensor(state, modelInput.name.replace(/\/.*$/, ''), inputShape);
  state.graph.input.tensor = inputTensor;
  state.tensorOf.set(modelInput.id, inputTensor);

  for (const layer of model.layers) {
    convertLayer(state, layer);
  }

  for (let i = 0; i < model.outputs.length; i++) {
    const output = model.outputs[i]!;
    const tensor = state.tensorOf.get(output.id);
    const layerName = model.outputLayers[i]?.name ?? output.name;
    if (tensor === undefined) {
      throw new Error(`Cannot export model output '${layerName}': no layer produced it.`);
    }
    state.graph.outputs.push({ name: layerName, tensor });
    const graphTensor = state.graph.tensors[tensor]!;
    graphTensor.name = layerName;
  }
  return state.graph;
}

function countConsumers(model: tf.LayersModel): Map<number, number> {
  const counts = new Map<number, number>();
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    for (const input of layerInputs(layer)) {
      counts.set(input.id, (counts.get(input.id) ?? 0) + 1);
    }
  }
  for (const output of model.outputs) {
    counts.set(output.id, (counts.get(output.id) ?? 0) + 1);
  }
  return counts;
}

function layerInputs(layer: Layer): SymbolicTensor[] {
  if (layer.inboundNodes.length !== 1) {
    throw new UnsupportedLayerError(
      layer.name,
      layer.getClassName(),
      `it is called ${layer.inboundNodes.length} times; shared layers are not supported, so give each call its own layer`,
    );
  }
  const input = layer.input;
  return Array.isArray(input) ? input : [input];
}

function layerOutput(layer: Layer): SymbolicTensor {
  const output = layer.output;
  if (Array.isArray(output)) {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'layers with several outputs are not supported');
  }
  return output;
}

function concreteShape(shape: Array<number | null>, name: string, layerClass: string): number[] {
  const dims = shape.slice(1);
  if (dims.some((d) => d === null)) {
    throw new UnsupportedLayerError(name, layerClass, `its shape [${shape.join(', ')}] has unknown dimensions besides the batch; fix the input size`);
  }
  return [1, ...(dims as number[])];
}

function addTensor(state: ConvertState, name: string, shape: number[]): number {
  const id = state.graph.tensors.length;
  const tensor: GraphTensor = { id, name, shape };
  state.graph.tensors.push(tensor);
  return id;
}

function inputTensorIds(state: ConvertState, layer: Layer): number[] {
  return layerInputs(layer).map((input) => {
    const id = state.tensorOf.get(input.id);
    if (id === undefined) {
      throw new UnsupportedLayerError(layer.name, layer.getClassName(), `its input '${input.name}' was not produced by an exported layer`);
    }
    return id;
  });
}

function emit(state: ConvertState, layer: Layer, op: GraphOp): void {
  state.graph.ops.push(op);
  state.producer.set(op.output, op);
  state.tensorOf.set(layerOutput(layer).id, op.output);
}

function newOutput(state: ConvertState, layer: Layer): number {
  return addTensor(state, layer.name, concreteShape(layerOutput(layer).shape, layer.name, layer.getClassName()));
}

function weightsOf(layer: Layer): Float32Array[] {
  return layer.getWeights().map((w) => Float32Array.from(w.dataSync()));
}

function convertLayer(state: ConvertState, layer: Layer): void {
  const className = layer.getClassName();
  const config = layer.getConfig();
  switch (className) {
    case 'InputLayer':
      return;
    case 'Dropout':
      state.tensorOf.set(layerOutput(layer).id, inputTensorIds(state, layer)[0]!);
      return;
    case 'Conv2D':
    case 'DepthwiseConv2D':
      convertConvolution(state, layer, className, config);
      return;
    case 'Dense':
      convertDense(state, layer, config);
      return;
    case 'BatchNormalization':
      foldBatchNorm(state, layer, config);
      return;
    case 'Activation':
      applyActivation(state, layer, String(config['activation']), inputTensorIds(state, layer)[0]!, true);
      return;
    case 'ReLU': {
      const maxValue = config['maxValue'];
      let activation: string | null = null;
      if (maxValue === null || maxValue === undefined) activation = 'relu';
      else if (maxValue === 6) activation = 'relu6';
      if (activation === null) {
        throw new UnsupportedLayerError(layer.name, className, `ReLU with maxValue ${String(maxValue)} is not supported; use maxValue 6 or none`);
      }
      applyActivation(state, layer, activation, inputTensorIds(state, layer)[0]!, true);
      return;
    }
    case 'Softmax': {
      const axis = config['axis'];
      if (axis !== -1 && axis !== undefined) {
        throw new UnsupportedLayerError(layer.name, className, `softmax over axis ${String(axis)} is not supported; only the last axis is`);
      }
      applyActivation(state, layer, 'softmax', inputTensorIds(state, layer)[0]!, true);
      return;
    }
    case 'Add':
      convertAdd(state, layer);
      return;
    case 'Concatenate':
      convertConcatenate(state, layer, config);
      return;
    case 'GlobalAveragePooling2D':
      convertGlobalAveragePooling(state, layer, config);
      return;
    case 'Flatten':
    case 'Reshape': {
      const input = inputTensorIds(state, layer)[0]!;
      const output = newOutput(state, layer);
      emit(state, layer, { kind: 'reshape', inputs: [input], output, layer: layer.name, newShape: state.graph.tensors[output]!.shape });
      return;
    }
    default:
      throw new UnsupportedLayerError(
        layer.name,
        className,
        `no TFLite export exists for this layer class; supported classes are ${SUPPORTED_LAYER_CLASSES.join(', ')}`,
      );
  }
}

function pair(value: unknown, fallback: number): [number, number] {
  if (Array.isArray(value)) return [Number(value[0] ?? fallback), Number(value[1] ?? value[0] ?? fallback)];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
}

function paddingOf(layer: Layer, config: Record<string, unknown>): 'SAME' | 'VALID' {
  const padding = config['padding'];
  if (padding === 'same') return 'SAME';
  if (padding === 'valid') return 'VALID';
  throw new UnsupportedLayerError(layer.name, layer.getClassName(), `padding '${String(padding)}' is not supported; use 'same' or 'valid'`);
}

function checkChannelsLast(layer: Layer, config: Record<string, unknown>): void {
  const format = config['dataFormat'];
  if (format !== undefined && format !== null && format !== 'channelsLast') {
    throw new UnsupportedLayerError(layer.name, layer.getClassName(), `dataFormat '${String(format)}' is not supported; TFLite models are NHWC, so use 'channelsLast'`);
  }
}

function convertConvolution(state: ConvertState, layer: Layer, className: 'Conv2D' | 'DepthwiseConv2D', config: Record<string, unknown>): void {
  checkChannelsLast(layer, config);
  const input = inputTensorIds(state, layer)[0]!;
  const output = newOutput(state, layer);
  const weights = weightsOf(layer);
  const kernelTensor = layer.getWeights()[0];
  if (kernelTensor === undefined) {
    throw new UnsupportedLayerError(layer.name, className, 'it has no kernel weights');
  }
  const kernelShape = kernelTensor.shape as [number, number, number, number];
  const outChannels = className === 'Conv2D' ? kernelShape[3] : kernelShape[2] * kernelShape[3];
  const bias = weights[1] ?? new Float32Array(outChannels);
  const common = {
    inputs: [input],
    output,
    layer: layer.name,
    kernel: weights[0]!,
    kernelShape,
    bias,
    strides: pair(config['strides'], 1),
    dilation: pair(config['dilationRate'], 1),
    padding: paddingOf(layer, config),
    activation: 'NONE' as FusedActivation,
  };
  if (className === 'Conv2D') {
    emit(state, layer, { kind: 'conv2d', ...common });
  } else {
    emit(state, layer, { kind: 'depthwise_conv2d', ...common });
  }
  applyActivation(state, layer, String(config['activation'] ?? 'linear'), output, false);
}

function convertDense(state: ConvertState, layer: Layer, config: Record<string, unknown>): void {
  const input = inputTensorIds(state, layer)[0]!;
  const inputShape = state.graph.tensors[input]!.shape;
  if (inputShape.length !== 2) {
    throw new UnsupportedLayerError(layer.name, 'Dense', `its input has shape [${inputShape.join(', ')}]; only rank-2 inputs are supported, so add a Flatten layer before it`);
  }
  const output = newOutput(state, layer);
  const weights = weightsOf(layer);
  const kernelShape = layer.getWeights()[0]!.shape as [number, number];
  emit(state, layer, {
    kind: 'dense',
    inputs: [input],
    output,
    layer: layer.name,
    kernel: weights[0]!,
    kernelShape,
    bias: weights[1] ?? new Float32Array(kernelShape[1]),
    activation: 'NONE',
  });
  applyActivation(state, layer, String(config['activation'] ?? 'linear'), output, false);
}

/**
 * Applies an activation to `input`. ReLU and ReLU6 are fused into the producing op when that op
 * accepts a fused activation, has none yet, and nothing else reads its output. Otherwise the
 * activation becomes its own op. `ownLayer` is true for activation layers and false for a
 * convolution or dense layer's `activation` setting.
 */
function applyActivation(state: ConvertState, layer: Layer, activation: string, input: number, ownLayer: boolean): void {
  const className = layer.getClassName();
  const outputSymbol = layerOutput(layer);
  if (activation === 'linear') {
    state.tensorOf.set(outputSymbol.id, input);
    return;
  }
  const kinds: Record<string, 'relu' | 'relu6' | 'softmax' | 'logistic'> = { relu: 'relu', relu6: 'relu6', softmax: 'softmax', sigmoid: 'logistic' };
  const kind = kinds[activation];
  if (kind === undefined) {
    throw new UnsupportedLayerError(layer.name, className, `activation '${activation}' is not supported; use relu, relu6, softmax, sigmoid or linear`);
  }
  const producer = state.producer.get(input);
  const inputIsModelInput = input === state.graph.input.tensor;
  const singleReader = ownLayer ? (state.consumers.get(layerInputs(layer)[0]!.id) ?? 0) === 1 : true;
  if (
    (kind === 'relu' || kind === 'relu6') &&
    !inputIsModelInput &&
    producer !== undefined &&
    hasFusedActivation(producer) &&
    producer.activation === 'NONE' &&
    singleReader
  ) {
    producer.activation = kind === 'relu' ? 'RELU' : 'RELU6';
    state.tensorOf.set(outputSymbol.id, input);
    return;
  }
  const output = addTensor(state, ownLayer ? layer.name : `${layer.name}/${activation}`, [...state.graph.tensors[input]!.shape]);
  const op: GraphOp = { kind, inputs: [input], output, layer: layer.name };
  state.graph.ops.push(op);
  state.producer.set(output, op);
  state.tensorOf.set(outputSymbol.id, output);
}

function foldBatchNorm(state: ConvertState, layer: Layer, config: Record<string, unknown>): void {
  const axis = config['axis'];
  if (axis !== -1 && axis !== undefined && !(Array.isArray(axis) && axis.length === 1 && axis[0] === -1)) {
    const rank = layerOutput(layer).shape.length;
    if (axis !== rank - 1) {
      throw new UnsupportedLayerError(layer.name, 'BatchNormalization', `axis ${String(axis)} is not supported; only the channel axis (-1) can be folded`);
    }
  }
  const input = inputTensorIds(state, layer)[0]!;
  const producer = state.producer.get(input);
  const single = (state.consumers.get(layerInputs(layer)[0]!.id) ?? 0) === 1;
  if (
    producer === undefined ||
    !(producer.kind === 'conv2d' || producer.kind === 'depthwise_conv2d' || producer.kind === 'dense') ||
    producer.activation !== 'NONE' ||
    !single
  ) {
    throw new UnsupportedLayerError(
      layer.name,
      'BatchNormalization',
      'it can only be folded into a Conv2D, DepthwiseConv2D or Dense layer without activation whose output only it reads',
    );
  }
  const weights = weightsOf(layer);
  const epsilon = Number(config['epsilon'] ?? 1e-3);
  let index = 0;
  const channels = producer.bias.length;
  const gamma = config['scale'] === false ? new Float32Array(channels).fill(1) : weights[index++]!;
  const beta = config['center'] === false ? new Float32Array(channels) : weights[index++]!;
  const mean = weights[index++]!;
  const variance = weights[index++]!;
  const kernel = producer.kernel;
  const factor = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    factor[c] = gamma[c]! / Math.sqrt(variance[c]! + epsilon);
  }
  // The output channel is the fastest-varying kernel index in all three layouts
  // (HWIO, [kh, kw, in, multiplier] flattened over in*multiplier, and [in, out]).
  for (let i = 0; i < kernel.length; i++) {
    kernel[i] = kernel[i]! * factor[i % channels]!;
  }
  for (let c = 0; c < channels; c++) {
    producer.bias[c] = (producer.bias[c]! - mean[c]!) * factor[c]! + beta[c]!;
  }
  state.tensorOf.set(layerOutput(layer).id, input);
}

function convertAdd(state: ConvertState, layer: Layer): void {
  const inputs = inputTensorIds(state, layer);
  let current = inputs[0]!;
  for (let i = 1; i < inputs.length; i++) {
    const output = i === inputs.length - 1 ? newOutput(state, layer) : addTensor(state, `${layer.name}/partial${i}`, [...state.graph.tensors[current]!.shape]);
    const op: GraphOp = { kind: 'add', inputs: [current, inputs[i]!], output, layer: layer.name, activation: 'NONE' };
    state.graph.ops.push(op);
    state.producer.set(output, op);
    current = output;
  }
  state.tensorOf.set(layerOutput(layer).id, current);
}

function convertConcatenate(state: ConvertState, layer: Layer, config: Record<string, unknown>): void {
  const inputs = inputTensorIds(state, layer);
  const output = newOutput(state, layer);
  const rank = state.graph.tensors[output]!.shape.length;
  const rawAxis = Number(config['axis'] ?? -1);
  emit(state, layer, { kind: 'concat', inputs, output, layer: layer.name, axis: rawAxis < 0 ? rank + rawAxis : rawAxis, activation: 'NONE' });
}

function convertGlobalAveragePooling(state: ConvertState, layer: Layer, config: Record<string, unknown>): void {
  checkChannelsLast(layer, config);
  const input = inputTensorIds(state, layer)[0]!;
  const shape = state.graph.tensors[input]!.shape;
  const [, height, width, channels] = shape as [number, number, number, number];
  const pooled = addTensor(state, `${layer.name}/pool`, [1, 1, 1, channels]);
  const poolOp: GraphOp = { kind: 'average_pool', inputs: [input], output: pooled, layer: layer.name, filter: [height, width] };
  state.graph.ops.push(poolOp);
  state.producer.set(pooled, poolOp);
  const output = newOutput(state, layer);
  emit(state, layer, { kind: 'reshape', inputs: [pooled], output, layer: layer.name, newShape: state.graph.tensors[output]!.shape });
}
