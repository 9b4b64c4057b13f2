import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import type { PreparedSample } from '../data/store-samples.ts';
import type { LoadedTfliteModel } from '../runtime/tflite-model.ts';

/** Raw outputs per head, one array per sample. */
export type HeadOutputs = Record<string, Float32Array[]>;

/** Runs a tfjs model over samples in batches and returns its outputs per head and sample. */
export function predictTfjs(model: tf.LayersModel, samples: PreparedSample[], heads: HeadSpec[], input: InputSpec, batchSize = 32): HeadOutputs {
  const result: HeadOutputs = Object.fromEntries(heads.map((h) => [h.name, [] as Float32Array[]]));
  const size = input.height * input.width * 3;
  for (let start = 0; start < samples.length; start += batchSize) {
    const chunk = samples.slice(start, start + batchSize);
    const pixels = new Float32Array(chunk.length * size);
    chunk.forEach((s, i) => pixels.set(s.pixels, i * size));
    const outputs = tf.tidy(() => {
      const raw = model.predict(tf.tensor4d(pixels, [chunk.length, input.height, input.width, 3]));
      const list = Array.isArray(raw) ? raw : [raw];
      return list.map((t) => ({ data: t.dataSync() as Float32Array, width: t.shape[1] ?? 1 }));
    });
    outputs.forEach((output, o) => {
      const name = model.outputLayers[o]!.name;
      const list = result[name];
      if (list === undefined) return;
      for (let i = 0; i < chunk.length; i++) list.push(output.data.slice(i * output.width, (i + 1) * output.width));
    });
  }
  return result;
}

/** Runs a loaded .tflite model over samples one at a time (batch 1) and returns outputs per head. */
export async function predictTflite(model: LoadedTfliteModel, samples: PreparedSample[], heads: HeadSpec[]): Promise<HeadOutputs> {
  const result: HeadOutputs = Object.fromEntries(heads.map((h) => [h.name, [] as Float32Array[]]));
  const inputName = model.inputs[0]!.name;
  for (const sample of samples) {
    const out = await model.run({ [inputName]: sample.pixels });
    for (const head of heads) {
      const values = out[head.name];
      if (values === undefined) {
        throw new Error(`TFLite model (${model.engine}) has no output '${head.name}'; its outputs are ${Object.keys(out).join(', ')}.`);
      }
      result[head.name]!.push(Float32Array.from(values));
    }
  }
  return result;
}
