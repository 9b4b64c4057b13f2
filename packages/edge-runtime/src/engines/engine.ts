import type { ModelFiles } from '../bundle/bundle-files.ts';

/** Element type of a model tensor, as the engines report it. */
export type TensorDtype = 'float32' | 'int32' | 'int8' | 'uint8' | 'bool' | 'other';

/** Name, shape and element type of one model input or output; -1 marks a dynamic dimension. */
export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: TensorDtype;
}

/** A model loaded by one engine, ready to run one input tensor at a time. */
export interface LoadedModel {
  readonly engine: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /**
   * Runs the model on one input (batch 1) and returns every output as float32, in the order of
   * `outputs`. Quantized outputs come back as their raw integer values.
   */
  run(input: Float32Array | Int32Array | Int8Array | Uint8Array): Promise<Float32Array[]>;
  /** Live tensors the engine holds, where it can count them; for leak checks. */
  liveTensors(): number;
  dispose(): void;
}

/** One way of running models: LiteRT.js, tfjs-tflite, or a tfjs backend. */
export interface InferenceEngine {
  readonly name: string;
  accepts(format: ModelFiles['format']): boolean;
  /** Loads the model; throws with the engine's reason when it cannot. */
  load(model: ModelFiles): Promise<LoadedModel>;
}

/** Allocates a zero input of the right type and size for a model's first input. */
export function zeroInput(info: TensorInfo): Float32Array | Int32Array | Int8Array | Uint8Array {
  const size = info.shape.reduce((product, dim) => product * Math.max(dim, 1), 1);
  if (info.dtype === 'int32') return new Int32Array(size);
  if (info.dtype === 'int8') return new Int8Array(size);
  if (info.dtype === 'uint8') return new Uint8Array(size);
  return new Float32Array(size);
}
