import * as flatbuffers from 'flatbuffers';

/** Name, shape, type and quantization layout of one tensor of a .tflite file. */
export interface TfliteTensorInfo {
  name: string;
  shape: number[];
  /** `shape_signature` (with -1 for dynamic dimensions), when the file has one. */
  shapeSignature?: number[];
  /** Byte offset of the `shape_signature` vector's first element, for in-place edits. */
  shapeSignatureOffset?: number;
  type: number;
  quantizedDimension: number;
  scaleCount: number;
}

export interface TfliteFileInfo {
  tensors: TfliteTensorInfo[];
  inputs: number[];
  outputs: number[];
  metadata: Map<string, Uint8Array>;
}

/** Returns the offset of field `index` inside `table`, or 0 when the field is absent. */
export function field(bb: flatbuffers.ByteBuffer, table: number, index: number): number {
  return bb.__offset(table, 4 + 2 * index);
}

function int32Vector(bb: flatbuffers.ByteBuffer, table: number, index: number): { values: number[]; start: number } | undefined {
  const offset = field(bb, table, index);
  if (offset === 0) return undefined;
  const start = bb.__vector(table + offset);
  const length = bb.__vector_len(table + offset);
  const values: number[] = [];
  for (let i = 0; i < length; i++) values.push(bb.readInt32(start + 4 * i));
  return { values, start };
}

/** Returns the positions of the tables in vector field `index` of `table`. */
export function tableVector(bb: flatbuffers.ByteBuffer, table: number, index: number): number[] {
  const offset = field(bb, table, index);
  if (offset === 0) return [];
  const start = bb.__vector(table + offset);
  const length = bb.__vector_len(table + offset);
  const tables: number[] = [];
  for (let i = 0; i < length; i++) tables.push(bb.__indirect(start + 4 * i));
  return tables;
}

function stringField(bb: flatbuffers.ByteBuffer, table: number, index: number): string {
  const offset = field(bb, table, index);
  return offset === 0 ? '' : (bb.__string(table + offset, flatbuffers.Encoding.UTF16_STRING) as string);
}

/**
 * Reads the first subgraph's tensors, inputs, outputs and the named metadata of a TFLite
 * flatbuffer. Raises when the bytes are not a TFLite model.
 */
export function readTfliteInfo(bytes: Uint8Array): TfliteFileInfo {
  if (bytes.length < 8) throw new Error(`TFLite data is ${bytes.length} bytes long; a TFLite file is at least 8 bytes.`);
  const bb = new flatbuffers.ByteBuffer(bytes);
  const identifier = String.fromCharCode(...bytes.subarray(4, 8));
  if (identifier !== 'TFL3') {
    throw new Error(`Data is not a TFLite model: its file identifier is '${identifier}', expected 'TFL3'.`);
  }
  const model = bb.readInt32(bb.position()) + bb.position();
  const subgraph = tableVector(bb, model, 2)[0];
  if (subgraph === undefined) throw new Error('TFLite model has no subgraph.');
  const tensors = tableVector(bb, subgraph, 0).map((tensor) => {
    const shape = int32Vector(bb, tensor, 0)?.values ?? [];
    const typeOffset = field(bb, tensor, 1);
    const signature = int32Vector(bb, tensor, 7);
    const quantization = field(bb, tensor, 4);
    let quantizedDimension = 0;
    let scaleCount = 0;
    if (quantization !== 0) {
      const q = bb.__indirect(tensor + quantization);
      const dimOffset = field(bb, q, 6);
      quantizedDimension = dimOffset === 0 ? 0 : bb.readInt32(q + dimOffset);
      const scaleOffset = field(bb, q, 2);
      scaleCount = scaleOffset === 0 ? 0 : bb.__vector_len(q + scaleOffset);
    }
    const info: TfliteTensorInfo = {
      name: stringField(bb, tensor, 3),
      shape,
      type: typeOffset === 0 ? 0 : bb.readInt8(tensor + typeOffset),
      quantizedDimension,
      scaleCount,
    };
    if (signature !== undefined) {
      info.shapeSignature = signature.values;
      info.shapeSignatureOffset = signature.start;
    }
    return info;
  });
  const buffers = tableVector(bb, model, 4);
  const metadata = new Map<string, Uint8Array>();
  for (const entry of tableVector(bb, model, 6)) {
    const bufferOffset = field(bb, entry, 1);
    const buffer = buffers[bufferOffset === 0 ? 0 : bb.readUint32(entry + bufferOffset)];
    if (buffer === undefined) continue;
    const dataOffset = field(bb, buffer, 0);
    if (dataOffset === 0) continue;
    const start = bb.__vector(buffer + dataOffset);
    metadata.set(stringField(bb, entry, 0), bytes.slice(start, start + bb.__vector_len(buffer + dataOffset)));
  }
  return {
    tensors,
    inputs: int32Vector(bb, subgraph, 1)?.values ?? [],
    outputs: int32Vector(bb, subgraph, 2)?.values ?? [],
    metadata,
  };
}

/**
 * Returns the first per-channel quantized tensor whose `quantized_dimension` is outside its rank.
 * TFLite Micro ignores that field for such files, but the full interpreter rejects them.
 */
export function findInvalidQuantizedDimension(info: TfliteFileInfo): TfliteTensorInfo | undefined {
  return info.tensors.find((t) => t.scaleCount > 1 && (t.quantizedDimension < 0 || t.quantizedDimension >= t.shape.length));
}

/**
 * Returns a copy of the model whose dynamic batch (-1 first in a tensor's `shape_signature`) is
 * fixed to 1, because LiteRT.js 2.5 rejects batch-1 input tensors for a `[-1, ...]` signature.
 */
export function pinInputBatch(bytes: Uint8Array, info: TfliteFileInfo): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  for (const tensor of info.tensors) {
    if (tensor.shapeSignature === undefined || tensor.shapeSignatureOffset === undefined) continue;
    if (tensor.shapeSignature[0] === -1) view.setInt32(tensor.shapeSignatureOffset, 1, true);
  }
  return copy;
}
