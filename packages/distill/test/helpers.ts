import * as tf from '@tensorflow/tfjs';
import { loadTfliteModel, type TfliteEngine } from '../src/index.ts';

/** Fills a seeded pseudo-random input, deterministic across runs. */
export function seededInput(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** Runs a .tflite model (bytes) in an engine on one input and returns outputs by name. */
export async function runTflite(bytes: Uint8Array, engine: TfliteEngine, input: tf.Tensor): Promise<Record<string, Float32Array>> {
  const model = await loadTfliteModel(bytes, engine);
  const feed = Float32Array.from(input.dataSync());
  const out = await model.run({ [model.inputs[0]!.name]: feed });
  model.close();
  const result: Record<string, Float32Array> = {};
  for (const [name, values] of Object.entries(out)) result[name] = Float32Array.from(values);
  return result;
}

/** Returns the tfjs model's outputs by output layer name. */
export function runTfjs(model: tf.LayersModel, input: tf.Tensor): Record<string, Float32Array> {
  const raw = model.predict(input);
  const tensors = Array.isArray(raw) ? raw : [raw];
  const result: Record<string, Float32Array> = {};
  tensors.forEach((tensor, i) => {
    result[model.outputLayers[i]!.name] = Float32Array.from(tensor.dataSync());
    tensor.dispose();
  });
  return result;
}

/** Largest |a - b| / max(1, |b|) over two arrays. */
export function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

/** Largest |a - b| over two arrays. */
export function maxAbsoluteError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
