import * as flatbuffers from 'flatbuffers';
import { field, tableVector } from './read-tflite.ts';

/**
 * Byte counts of the parts of a .tflite file. Vectors that several tables share are counted
 * once, so the parts add up to `total`.
 */
export interface TfliteByteBreakdown {
  total: number;
  /** Contents of the buffers that constant tensors use (weights, biases, shapes). */
  tensorData: number;
  /** Contents of the buffers that metadata entries use. */
  metadata: number;
  /** Tensor name strings with their length prefix and terminator. */
  tensorNames: number;
  /** Quantization `scale` vectors (float32) with their length prefix. */
  quantizationScales: number;
  /** Quantization `zero_point` vectors (int64) with their length prefix. */
  quantizationZeroPoints: number;
  /** Everything else: tables, vtables, shapes, operators, signature, strings and alignment padding. */
  other: number;
}

/** Returns the start and length of a vector field, or undefined when the field is absent. */
function vectorAt(bb: flatbuffers.ByteBuffer, table: number, index: number): { start: number; length: number } | undefined {
  const offset = field(bb, table, index);
  if (offset === 0) return undefined;
  return { start: bb.__vector(table + offset), length: bb.__vector_len(table + offset) };
}

/**
 * Measures the parts of a TFLite flatbuffer: constant tensor data, metadata, the tensor names and
 * quantization vectors of all subgraphs, and the rest. Raises when the bytes are not a TFLite model.
 */
export function measureTfliteBytes(bytes: Uint8Array): TfliteByteBreakdown {
  const identifier = bytes.length < 8 ? '' : String.fromCharCode(...bytes.subarray(4, 8));
  if (identifier !== 'TFL3') {
    throw new Error(`Data is not a TFLite model: its file identifier is '${identifier}', expected 'TFL3'.`);
  }
  const bb = new flatbuffers.ByteBuffer(bytes);
  const model = bb.readInt32(bb.position()) + bb.position();
  const bufferLengths = tableVector(bb, model, 4).map((buffer) => vectorAt(bb, buffer, 0)?.length ?? 0);

  let metadata = 0;
  const metadataBuffers = new Set<number>();
  for (const entry of tableVector(bb, model, 6)) {
    const offset = field(bb, entry, 1);
    const index = offset === 0 ? 0 : bb.readUint32(entry + offset);
    if (metadataBuffers.has(index)) continue;
    metadataBuffers.add(index);
    metadata += bufferLengths[index] ?? 0;
  }
  const allBuffers = bufferLengths.reduce((sum, length) => sum + length, 0);

  let tensorNames = 0;
  let quantizationScales = 0;
  let quantizationZeroPoints = 0;
  const counted = new Set<number>();
  const countOnce = (vector: { start: number; length: number } | undefined, elementBytes: number): number => {
    if (vector === undefined || counted.has(vector.start)) return 0;
    counted.add(vector.start);
    return 4 + elementBytes * vector.length;
  };
  for (const subgraph of tableVector(bb, model, 2)) {
    for (const tensor of tableVector(bb, subgraph, 0)) {
      // A string is a length prefix, the UTF-8 bytes and a terminating zero byte.
      const name = countOnce(vectorAt(bb, tensor, 3), 1);
      tensorNames += name === 0 ? 0 : name + 1;
      const quantization = field(bb, tensor, 4);
      if (quantization === 0) continue;
      const q = bb.__indirect(tensor + quantization);
      quantizationScales += countOnce(vectorAt(bb, q, 2), 4);
      quantizationZeroPoints += countOnce(vectorAt(bb, q, 3), 8);
    }
  }
  const tensorData = allBuffers - metadata;
  return {
    total: bytes.length,
    tensorData,
    metadata,
    tensorNames,
    quantizationScales,
    quantizationZeroPoints,
    other: bytes.length - allBuffers - tensorNames - quantizationScales - quantizationZeroPoints,
  };
}
