import * as flatbuffers from 'flatbuffers';
import {
  ActivationFunctionType,
  BuiltinOperator,
  BuiltinOptions,
  Padding,
  TensorType,
  TFLITE_FILE_IDENTIFIER,
  TFLITE_SCHEMA_VERSION,
  type BuiltinOperatorCode,
  type TensorTypeCode,
} from './schema.ts';

/** Quantization of one TFLite tensor; one scale for per-tensor, one per channel otherwise. */
export interface TensorQuantization {
  scale: number[];
  zeroPoint: number[];
  quantizedDimension?: number;
}

export interface TfliteTensor {
  /** Tensor name; the writer leaves the optional `name` field out when this is empty. */
  name: string;
  shape: number[];
  type: TensorTypeCode;
  /** Index into the model's buffers; 0 is the empty buffer of non-constant tensors. */
  buffer: number;
  quantization?: TensorQuantization;
}

/** One builtin operator with its options table written by `writeOptions`. */
export interface TfliteOperator {
  code: BuiltinOperatorCode;
  inputs: number[];
  outputs: number[];
  optionsType: number;
  writeOptions?: (builder: flatbuffers.Builder) => flatbuffers.Offset;
}

/** A single-subgraph TFLite model as plain data, ready to serialise. */
export interface TfliteModelData {
  description: string;
  tensors: TfliteTensor[];
  /** Buffer contents; entry 0 must be empty. */
  buffers: Uint8Array[];
  operators: TfliteOperator[];
  inputs: Array<{ name: string; tensor: number }>;
  outputs: Array<{ name: string; tensor: number }>;
  /** Named metadata entries, each stored in its own buffer. */
  metadata: Array<{ name: string; data: Uint8Array }>;
}

/** Key of the single signature every exported model has. */
export const SIGNATURE_KEY = 'serving_default';

function int32Vector(builder: flatbuffers.Builder, values: readonly number[]): flatbuffers.Offset {
  builder.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) builder.addInt32(values[i]!);
  return builder.endVector();
}

function float32Vector(builder: flatbuffers.Builder, values: readonly number[]): flatbuffers.Offset {
  builder.startVector(4, values.length, 4);
  for (let i = values.length - 1; i >= 0; i--) builder.addFloat32(values[i]!);
  return builder.endVector();
}

function int64Vector(builder: flatbuffers.Builder, values: readonly number[]): flatbuffers.Offset {
  builder.startVector(8, values.length, 8);
  for (let i = values.length - 1; i >= 0; i--) builder.addInt64(BigInt(values[i]!));
  return builder.endVector();
}

function offsetVector(builder: flatbuffers.Builder, offsets: readonly flatbuffers.Offset[]): flatbuffers.Offset {
  builder.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) builder.addOffset(offsets[i]!);
  return builder.endVector();
}

function byteVector(builder: flatbuffers.Builder, bytes: Uint8Array): flatbuffers.Offset {
  // 16-byte alignment lets runtimes read float and int32 weights in place.
  builder.startVector(1, bytes.length, 16);
  for (let i = bytes.length - 1; i >= 0; i--) builder.addInt8(bytes[i]!);
  return builder.endVector();
}

/**
 * Writes each distinct vector and quantization table once and returns the first offset for
 * every later equal one. A flatbuffer table may point at data another table points at, so
 * per-channel tensors with equal channel counts share one zero-point vector, tensors with equal
 * parameters share one table, and equal shapes and operator index lists share one vector.
 */
class SharedWriter {
  private readonly offsets = new Map<string, flatbuffers.Offset>();

  constructor(private readonly builder: flatbuffers.Builder) {}

  private once(key: string, write: () => flatbuffers.Offset): flatbuffers.Offset {
    let offset = this.offsets.get(key);
    if (offset === undefined) {
      offset = write();
      this.offsets.set(key, offset);
    }
    return offset;
  }

  int32Vector(values: readonly number[]): flatbuffers.Offset {
    return this.once(`i32:${values.join(',')}`, () => int32Vector(this.builder, values));
  }

  float32Vector(values: readonly number[]): flatbuffers.Offset {
    // Keyed by the float32 bit patterns, so values that round to the same float32 share a vector.
    return this.once(`f32:${Array.from(Float32Array.from(values)).join(',')}`, () => float32Vector(this.builder, values));
  }

  int64Vector(values: readonly number[]): flatbuffers.Offset {
    return this.once(`i64:${values.join(',')}`, () => int64Vector(this.builder, values));
  }

  quantization(q: TensorQuantization): flatbuffers.Offset {
    const scale = this.float32Vector(q.scale);
    const zeroPoint = this.int64Vector(q.zeroPoint);
    const dimension = q.quantizedDimension ?? 0;
    return this.once(`q:${scale}:${zeroPoint}:${dimension}`, () => {
      // QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details_type 4, details 5, quantized_dimension 6.
      this.builder.startObject(7);
      this.builder.addFieldOffset(2, scale, 0);
      this.builder.addFieldOffset(3, zeroPoint, 0);
      this.builder.addFieldInt32(6, dimension, 0);
      return this.builder.endObject();
    });
  }
}

// Scalar fields below pass their schema default as the flatbuffers default. A field equal to its
// default is then left out, and readers return the schema default for it.

function writeTensor(builder: flatbuffers.Builder, shared: SharedWriter, tensor: TfliteTensor): flatbuffers.Offset {
  const shape = shared.int32Vector(tensor.shape);
  const name = tensor.name === '' ? 0 : builder.createString(tensor.name);
  const quantization = tensor.quantization === undefined ? 0 : shared.quantization(tensor.quantization);
  // Tensor: shape 0, type 1 (default FLOAT32), buffer 2 (default 0, the empty buffer), name 3, quantization 4.
  builder.startObject(5);
  builder.addFieldOffset(0, shape, 0);
  builder.addFieldInt8(1, tensor.type, TensorType.FLOAT32);
  builder.addFieldInt32(2, tensor.buffer, 0);
  if (name !== 0) builder.addFieldOffset(3, name, 0);
  if (quantization !== 0) builder.addFieldOffset(4, quantization, 0);
  return builder.endObject();
}

function writeOperator(builder: flatbuffers.Builder, shared: SharedWriter, op: TfliteOperator, opcodeIndex: number): flatbuffers.Offset {
  const inputs = shared.int32Vector(op.inputs);
  const outputs = shared.int32Vector(op.outputs);
  const options = op.writeOptions === undefined ? 0 : op.writeOptions(builder);
  // Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3 (default NONE), builtin_options 4.
  builder.startObject(5);
  builder.addFieldInt32(0, opcodeIndex, 0);
  builder.addFieldOffset(1, inputs, 0);
  builder.addFieldOffset(2, outputs, 0);
  if (options !== 0) {
    builder.addFieldInt8(3, op.optionsType, BuiltinOptions.NONE);
    builder.addFieldOffset(4, options, 0);
  }
  return builder.endObject();
}

function writeOperatorCode(builder: flatbuffers.Builder, code: number): flatbuffers.Offset {
  // OperatorCode: deprecated_builtin_code 0 (int8, capped at 127), custom_code 1, version 2
  // (default 1), builtin_code 3. Readers take the larger of the two codes.
  builder.startObject(4);
  builder.addFieldInt8(0, Math.min(code, 127), 0);
  builder.addFieldInt32(3, code, 0);
  return builder.endObject();
}

function writeTensorMaps(builder: flatbuffers.Builder, maps: Array<{ name: string; tensor: number }>): flatbuffers.Offset {
  const offsets = maps.map((map) => {
    const name = builder.createString(map.name);
    // TensorMap: name 0, tensor_index 1.
    builder.startObject(2);
    builder.addFieldOffset(0, name, 0);
    builder.addFieldInt32(1, map.tensor, 0);
    return builder.endObject();
  });
  return offsetVector(builder, offsets);
}

/** Serialises the model as a TFLite flatbuffer (file identifier `TFL3`). */
export function writeTfliteModel(model: TfliteModelData): Uint8Array {
  if (model.buffers.length === 0 || model.buffers[0]!.length !== 0) {
    throw new Error('TFLite model buffers must start with the empty buffer at index 0.');
  }
  const builder = new flatbuffers.Builder(1024 + model.buffers.reduce((sum, b) => sum + b.length, 0));

  const codes: number[] = [];
  for (const op of model.operators) if (!codes.includes(op.code)) codes.push(op.code);

  const shared = new SharedWriter(builder);
  const tensors = offsetVector(builder, model.tensors.map((t) => writeTensor(builder, shared, t)));
  const operators = offsetVector(builder, model.operators.map((op) => writeOperator(builder, shared, op, codes.indexOf(op.code))));
  const inputs = shared.int32Vector(model.inputs.map((i) => i.tensor));
  const outputs = shared.int32Vector(model.outputs.map((o) => o.tensor));
  const subgraphName = builder.createString('main');
  // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4.
  builder.startObject(5);
  builder.addFieldOffset(0, tensors, 0);
  builder.addFieldOffset(1, inputs, 0);
  builder.addFieldOffset(2, outputs, 0);
  builder.addFieldOffset(3, operators, 0);
  builder.addFieldOffset(4, subgraphName, 0);
  const subgraph = builder.endObject();
  const subgraphs = offsetVector(builder, [subgraph]);

  const operatorCodes = offsetVector(builder, codes.map((code) => writeOperatorCode(builder, code)));

  const allBuffers = [...model.buffers, ...model.metadata.map((m) => m.data)];
  const bufferOffsets = allBuffers.map((bytes) => {
    const data = bytes.length > 0 ? byteVector(builder, bytes) : 0;
    // Buffer: data 0.
    builder.startObject(1);
    if (data !== 0) builder.addFieldOffset(0, data, 0);
    return builder.endObject();
  });
  const buffers = offsetVector(builder, bufferOffsets);

  const metadataOffsets = model.metadata.map((entry, i) => {
    const name = builder.createString(entry.name);
    // Metadata: name 0, buffer 1.
    builder.startObject(2);
    builder.addFieldOffset(0, name, 0);
    builder.addFieldInt32(1, model.buffers.length + i, 0);
    return builder.endObject();
  });
  const metadata = offsetVector(builder, metadataOffsets);

  const signatureInputs = writeTensorMaps(builder, model.inputs);
  const signatureOutputs = writeTensorMaps(builder, model.outputs);
  const signatureKey = builder.createString(SIGNATURE_KEY);
  // SignatureDef: inputs 0, outputs 1, signature_key 2, (deprecated 3), subgraph_index 4 (default 0).
  builder.startObject(5);
  builder.addFieldOffset(0, signatureInputs, 0);
  builder.addFieldOffset(1, signatureOutputs, 0);
  builder.addFieldOffset(2, signatureKey, 0);
  const signature = builder.endObject();
  const signatures = offsetVector(builder, [signature]);

  const description = builder.createString(model.description);
  // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4,
  // metadata_buffer 5, metadata 6, signature_defs 7.
  builder.startObject(8);
  builder.addFieldInt32(0, TFLITE_SCHEMA_VERSION, 0);
  builder.addFieldOffset(1, operatorCodes, 0);
  builder.addFieldOffset(2, subgraphs, 0);
  builder.addFieldOffset(3, description, 0);
  builder.addFieldOffset(4, buffers, 0);
  builder.addFieldOffset(6, metadata, 0);
  builder.addFieldOffset(7, signatures, 0);
  const root = builder.endObject();
  builder.finish(root, TFLITE_FILE_IDENTIFIER);
  return builder.asUint8Array().slice();
}

export function conv2DOptions(padding: 'SAME' | 'VALID', strides: [number, number], dilation: [number, number], activation: keyof typeof ActivationFunctionType) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    // Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused_activation_function 3, dilation_w 4
    // (default 1), dilation_h 5 (default 1). The other fields default to 0.
    builder.startObject(6);
    builder.addFieldInt8(0, Padding[padding], 0);
    builder.addFieldInt32(1, strides[1], 0);
    builder.addFieldInt32(2, strides[0], 0);
    builder.addFieldInt8(3, ActivationFunctionType[activation], 0);
    builder.addFieldInt32(4, dilation[1], 1);
    builder.addFieldInt32(5, dilation[0], 1);
    return builder.endObject();
  };
}

export function depthwiseConv2DOptions(
  padding: 'SAME' | 'VALID',
  strides: [number, number],
  dilation: [number, number],
  multiplier: number,
  activation: keyof typeof ActivationFunctionType,
) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    // DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3,
    // fused_activation_function 4, dilation_w 5 (default 1), dilation_h 6 (default 1). The other
    // fields default to 0.
    builder.startObject(7);
    builder.addFieldInt8(0, Padding[padding], 0);
    builder.addFieldInt32(1, strides[1], 0);
    builder.addFieldInt32(2, strides[0], 0);
    builder.addFieldInt32(3, multiplier, 0);
    builder.addFieldInt8(4, ActivationFunctionType[activation], 0);
    builder.addFieldInt32(5, dilation[1], 1);
    builder.addFieldInt32(6, dilation[0], 1);
    return builder.endObject();
  };
}

export function fullyConnectedOptions(activation: keyof typeof ActivationFunctionType) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    // FullyConnectedOptions: fused_activation_function 0 (default NONE).
    builder.startObject(4);
    builder.addFieldInt8(0, ActivationFunctionType[activation], 0);
    return builder.endObject();
  };
}

export function activationOnlyOptions(activation: keyof typeof ActivationFunctionType) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    // AddOptions: fused_activation_function 0 (default NONE).
    builder.startObject(2);
    builder.addFieldInt8(0, ActivationFunctionType[activation], 0);
    return builder.endObject();
  };
}

export function concatenationOptions(axis: number, activation: keyof typeof ActivationFunctionType) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    // ConcatenationOptions: axis 0, fused_activation_function 1, both with default 0.
    builder.startObject(2);
    builder.addFieldInt32(0, axis, 0);
    builder.addFieldInt8(1, ActivationFunctionType[activation], 0);
    return builder.endObject();
  };
}

export function pool2DOptions(filter: [number, number]) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    // Pool2DOptions: padding 0, stride_w 1, stride_h 2, filter_width 3, filter_height 4,
    // fused_activation_function 5, all with default 0.
    builder.startObject(6);
    builder.addFieldInt8(0, Padding.VALID, 0);
    builder.addFieldInt32(1, 1, 0);
    builder.addFieldInt32(2, 1, 0);
    builder.addFieldInt32(3, filter[1], 0);
    builder.addFieldInt32(4, filter[0], 0);
    return builder.endObject();
  };
}

export function reshapeOptions(newShape: number[]) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    const shape = int32Vector(builder, newShape);
    // ReshapeOptions: new_shape 0.
    builder.startObject(1);
    builder.addFieldOffset(0, shape, 0);
    return builder.endObject();
  };
}

export function softmaxOptions(beta: number) {
  return (builder: flatbuffers.Builder): flatbuffers.Offset => {
    // SoftmaxOptions: beta 0.
    builder.startObject(1);
    builder.addFieldFloat32(0, beta, 0);
    return builder.endObject();
  };
}

export { BuiltinOperator, BuiltinOptions, TensorType };
