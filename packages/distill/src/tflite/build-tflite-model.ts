import type { Graph, GraphOp } from './graph.ts';
import {
  activationQuantization,
  quantizeBias,
  quantizeChannels,
  type ActivationQuantization,
  type TensorRanges,
} from './quantize.ts';
import {
  activationOnlyOptions,
  BuiltinOperator,
  BuiltinOptions,
  concatenationOptions,
  conv2DOptions,
  depthwiseConv2DOptions,
  fullyConnectedOptions,
  pool2DOptions,
  reshapeOptions,
  softmaxOptions,
  TensorType,
  type TfliteModelData,
  type TfliteOperator,
  type TfliteTensor,
} from './write-flatbuffer.ts';

/** Softmax and logistic int8 outputs must use this fixed scale and zero point in TFLite. */
const PROBABILITY_QUANTIZATION: ActivationQuantization = { scale: 1 / 256, zeroPoint: -128 };

export interface BuildOptions {
  description: string;
  metadata: Array<{ name: string; data: Uint8Array }>;
  /** Calibrated ranges; when present the model is full-integer int8 with float32 edges. */
  int8Ranges?: TensorRanges;
  /**
   * Tensors that keep their name in the file. `signature` (the default) names only the model
   * input and outputs, because the runtimes report those names. `all` also gives weights and
   * intermediate tensors their layer names, for people who inspect the file.
   */
  tensorNames?: 'signature' | 'all';
}

function bytesOf(array: Float32Array | Int32Array | Int8Array): Uint8Array {
  return new Uint8Array(array.buffer.slice(array.byteOffset, array.byteOffset + array.byteLength));
}

/** Reorders an HWIO conv kernel into TFLite's OHWI layout. */
function hwioToOhwi(kernel: Float32Array, [kh, kw, cin, cout]: [number, number, number, number]): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) {
          out[((o * kh + h) * kw + w) * cin + i] = kernel[((h * kw + w) * cin + i) * cout + o]!;
        }
  return out;
}

/** Transposes a dense kernel `[in, out]` into TFLite's `[out, in]`. */
function transposeDense(kernel: Float32Array, [cin, cout]: [number, number]): Float32Array {
  const out = new Float32Array(kernel.length);
  for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) out[o * cin + i] = kernel[i * cout + o]!;
  return out;
}

/**
 * Lowers the exporter graph to TFLite tables. Float32 keeps every tensor float. Int8 quantizes
 * weights per output channel (symmetric) and activations per tensor (asymmetric, from the
 * calibrated ranges), and adds QUANTIZE after the float32 input and DEQUANTIZE before each float32
 * output, because LiteRT.js 2.5 rejects int8 model inputs and outputs.
 */
export function buildTfliteModel(graph: Graph, options: BuildOptions): TfliteModelData {
  const int8 = options.int8Ranges !== undefined;
  const tensors: TfliteTensor[] = [];
  const buffers: Uint8Array[] = [new Uint8Array(0)];
  const operators: TfliteOperator[] = [];
  const quant = new Map<number, ActivationQuantization>();

  const addConstant = (name: string, shape: number[], type: TfliteTensor['type'], data: Uint8Array, quantization?: TfliteTensor['quantization']): number => {
    buffers.push(data);
    tensors.push({ name, shape, type, buffer: buffers.length - 1, ...(quantization ? { quantization } : {}) });
    return tensors.length - 1;
  };

  // Graph tensor i becomes TFLite tensor i; int8 quantization is filled in as ops are visited.
  for (const tensor of graph.tensors) {
    tensors.push({ name: tensor.name, shape: tensor.shape, type: int8 ? TensorType.INT8 : TensorType.FLOAT32, buffer: 0 });
  }

  // int8 CONCATENATION needs every input at the output's scale and zero point (tfjs-tflite rejects
  // other files, and LiteRT.js runs them with wrong results), so a concat and its inputs share
  // the union of their ranges.
  // NOTE: a concat input that comes straight from a reshape or pooling op keeps that op's input
  // scale instead, so such graphs may still be rejected in int8.
  const sharedRanges = new Map<number, { min: number; max: number }>();
  if (options.int8Ranges !== undefined) {
    for (const op of graph.ops) {
      if (op.kind !== 'concat') continue;
      const ids = [...op.inputs, op.output];
      const ranges = ids.map((id) => sharedRanges.get(id) ?? options.int8Ranges!.get(id));
      const union = {
        min: Math.min(...ranges.map((r) => r?.min ?? 0)),
        max: Math.max(...ranges.map((r) => r?.max ?? 0)),
      };
      for (const id of ids) sharedRanges.set(id, union);
    }
  }
  const rangeQuantization = (id: number): ActivationQuantization => {
    const range = sharedRanges.get(id) ?? options.int8Ranges?.get(id);
    if (range === undefined) throw new Error(`Int8 calibration has no range for tensor '${graph.tensors[id]!.name}'.`);
    return activationQuantization(range.min, range.max);
  };
  const setQuantization = (id: number, q: ActivationQuantization): void => {
    quant.set(id, q);
    tensors[id]!.quantization = { scale: [q.scale], zeroPoint: [q.zeroPoint] };
  };

  let modelInput = graph.input.tensor;
  if (int8) {
    setQuantization(graph.input.tensor, rangeQuantization(graph.input.tensor));
    const shape = graph.tensors[graph.input.tensor]!.shape;
    tensors.push({ name: graph.input.name, shape, type: TensorType.FLOAT32, buffer: 0 });
    modelInput = tensors.length - 1;
    tensors[graph.input.tensor]!.name = `${graph.input.name}/int8`;
    operators.push({ code: BuiltinOperator.QUANTIZE, inputs: [modelInput], outputs: [graph.input.tensor], optionsType: BuiltinOptions.NONE });
  }

  for (const op of graph.ops) {
    if (int8) {
      const sameScale = op.kind === 'reshape' || op.kind === 'average_pool';
      const fixed = op.kind === 'softmax' || op.kind === 'logistic';
      let q: ActivationQuantization;
      if (sameScale) q = quant.get(op.inputs[0]!)!;
      else if (fixed) q = PROBABILITY_QUANTIZATION;
      else q = rangeQuantization(op.output);
      setQuantization(op.output, q);
    }
    operators.push(lowerOp(op, int8, quant, addConstant));
  }

  const outputs = graph.outputs.map((output) => {
    if (!int8) return { name: output.name, tensor: output.tensor };
    const shape = graph.tensors[output.tensor]!.shape;
    tensors.push({ name: output.name, shape, type: TensorType.FLOAT32, buffer: 0 });
    const floatTensor = tensors.length - 1;
    tensors[output.tensor]!.name = `${output.name}/int8`;
    operators.push({ code: BuiltinOperator.DEQUANTIZE, inputs: [output.tensor], outputs: [floatTensor], optionsType: BuiltinOptions.NONE });
    return { name: output.name, tensor: floatTensor };
  });

  if ((options.tensorNames ?? 'signature') === 'signature') {
    const named = new Set([modelInput, ...outputs.map((output) => output.tensor)]);
    tensors.forEach((tensor, index) => {
      if (!named.has(index)) tensor.name = '';
    });
  }

  return {
    description: options.description,
    tensors,
    buffers,
    operators,
    inputs: [{ name: graph.input.name, tensor: modelInput }],
    outputs,
    metadata: options.metadata,
  };
}

type AddConstant = (name: string, shape: number[], type: TfliteTensor['type'], data: Uint8Array, quantization?: TfliteTensor['quantization']) => number;

function lowerWeights(
  op: GraphOp & { kernel: Float32Array; bias: Float32Array },
  kernel: Float32Array,
  shape: number[],
  channelAxis: number,
  int8: boolean,
  quant: Map<number, ActivationQuantization>,
  addConstant: AddConstant,
): [number, number] {
  const channels = shape[channelAxis]!;
  if (!int8) {
    return [
      addConstant(`${op.layer}/kernel`, shape, TensorType.FLOAT32, bytesOf(kernel)),
      addConstant(`${op.layer}/bias`, [channels], TensorType.FLOAT32, bytesOf(op.bias)),
    ];
  }
  const inner = shape.slice(channelAxis + 1).reduce((a, b) => a * b, 1);
  const weights = quantizeChannels(kernel, channels, (i) => Math.floor(i / inner) % channels);
  const inputScale = quant.get(op.inputs[0]!)!.scale;
  const bias = quantizeBias(op.bias, inputScale, weights.scales);
  const zeros = new Array<number>(channels).fill(0);
  return [
    addConstant(`${op.layer}/kernel`, shape, TensorType.INT8, bytesOf(weights.values), {
      scale: Array.from(weights.scales),
      zeroPoint: zeros,
      quantizedDimension: channelAxis,
    }),
    addConstant(`${op.layer}/bias`, [channels], TensorType.INT32, bytesOf(bias), {
      scale: Array.from(weights.scales, (s) => s * inputScale),
      zeroPoint: zeros,
      quantizedDimension: 0,
    }),
  ];
}

function lowerOp(op: GraphOp, int8: boolean, quant: Map<number, ActivationQuantization>, addConstant: AddConstant): TfliteOperator {
  switch (op.kind) {
    case 'conv2d': {
      const [kh, kw, cin, cout] = op.kernelShape;
      const [filter, bias] = lowerWeights(op, hwioToOhwi(op.kernel, op.kernelShape), [cout, kh, kw, cin], 0, int8, quant, addConstant);
      return {
        code: BuiltinOperator.CONV_2D,
        inputs: [op.inputs[0]!, filter, bias],
        outputs: [op.output],
        optionsType: BuiltinOptions.Conv2DOptions,
        writeOptions: conv2DOptions(op.padding, op.strides, op.dilation, op.activation),
      };
    }
    case 'depthwise_conv2d': {
      const [kh, kw, cin, multiplier] = op.kernelShape;
      // [kh, kw, in, multiplier] flattened row-major is already [1, kh, kw, in * multiplier].
      const [filter, bias] = lowerWeights(op, op.kernel, [1, kh, kw, cin * multiplier], 3, int8, quant, addConstant);
      return {
        code: BuiltinOperator.DEPTHWISE_CONV_2D,
        inputs: [op.inputs[0]!, filter, bias],
        outputs: [op.output],
        optionsType: BuiltinOptions.DepthwiseConv2DOptions,
        writeOptions: depthwiseConv2DOptions(op.padding, op.strides, op.dilation, multiplier, op.activation),
      };
    }
    case 'dense': {
      const [cin, cout] = op.kernelShape;
      const [weights, bias] = lowerWeights(op, transposeDense(op.kernel, op.kernelShape), [cout, cin], 0, int8, quant, addConstant);
      return {
        code: BuiltinOperator.FULLY_CONNECTED,
        inputs: [op.inputs[0]!, weights, bias],
        outputs: [op.output],
        optionsType: BuiltinOptions.FullyConnectedOptions,
        writeOptions: fullyConnectedOptions(op.activation),
      };
    }
    case 'add':
      return {
        code: BuiltinOperator.ADD,
        inputs: op.inputs,
        outputs: [op.output],
        optionsType: BuiltinOptions.AddOptions,
        writeOptions: activationOnlyOptions(op.activation),
      };
    case 'concat':
      return {
        code: BuiltinOperator.CONCATENATION,
        inputs: op.inputs,
        outputs: [op.output],
        optionsType: BuiltinOptions.ConcatenationOptions,
        writeOptions: concatenationOptions(op.axis, op.activation),
      };
    case 'average_pool':
      return {
        code: BuiltinOperator.AVERAGE_POOL_2D,
        inputs: op.inputs,
        outputs: [op.output],
        optionsType: BuiltinOptions.Pool2DOptions,
        writeOptions: pool2DOptions(op.filter),
      };
    case 'reshape':
      // Without the optional shape input, RESHAPE reads the shape from `new_shape` in its options.
      return {
        code: BuiltinOperator.RESHAPE,
        inputs: [op.inputs[0]!],
        outputs: [op.output],
        optionsType: BuiltinOptions.ReshapeOptions,
        writeOptions: reshapeOptions(op.newShape),
      };
    case 'softmax':
      return {
        code: BuiltinOperator.SOFTMAX,
        inputs: op.inputs,
        outputs: [op.output],
        optionsType: BuiltinOptions.SoftmaxOptions,
        writeOptions: softmaxOptions(1),
      };
    case 'logistic':
      return { code: BuiltinOperator.LOGISTIC, inputs: op.inputs, outputs: [op.output], optionsType: BuiltinOptions.NONE };
    case 'relu':
      return { code: BuiltinOperator.RELU, inputs: op.inputs, outputs: [op.output], optionsType: BuiltinOptions.NONE };
    case 'relu6':
      return { code: BuiltinOperator.RELU6, inputs: op.inputs, outputs: [op.output], optionsType: BuiltinOptions.NONE };
  }
}
