import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
// Registers the trainer's custom layers, such as SeededDropout, which teachers' model.json files name.
import '@fieldloop/trainer';
import { writeFileAtomic } from '../tflite/export-tflite.ts';

/** `model-card.json` beside a tfjs model: the heads and input normalisation. */
export interface ModelCard {
  heads: HeadSpec[];
  input: InputSpec;
}

/**
 * Loads a tfjs LayersModel directory (`model.json` and its weight files) from disk without
 * tfjs-node, and its `model-card.json`.
 */
export async function loadModelDir(dir: string): Promise<{ model: tf.LayersModel; card: ModelCard }> {
  const modelJsonPath = path.join(dir, 'model.json');
  const cardPath = path.join(dir, 'model-card.json');
  let modelJson: { modelTopology: object; weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }> };
  try {
    modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as typeof modelJson;
  } catch (error) {
    throw new Error(`Cannot read tfjs model ${modelJsonPath}: ${error instanceof Error ? error.message : String(error)}. Pass --model a directory written by model.save().`);
  }
  let card: ModelCard;
  try {
    card = JSON.parse(await readFile(cardPath, 'utf8')) as ModelCard;
  } catch (error) {
    throw new Error(`Cannot read model card ${cardPath}: ${error instanceof Error ? error.message : String(error)}. The trainer writes it beside model.json.`);
  }
  if (!Array.isArray(card.heads) || card.input === undefined) {
    throw new Error(`Model card ${cardPath} is invalid: it needs 'heads' (HeadSpec[]) and 'input' (InputSpec).`);
  }
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Buffer[] = [];
  for (const group of modelJson.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const file of group.paths) chunks.push(await readFile(path.join(dir, file)));
  }
  const joined = Buffer.concat(chunks);
  const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer;
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData }));
  return { model, card };
}

/** Turns raw RGB bytes into the normalised NHWC tensor the model card describes. */
export function normaliseImage(pixels: Uint8Array, input: InputSpec): tf.Tensor4D {
  return tf.tidy(() => {
    const image = tf.tensor3d(pixels, [input.height, input.width, 3], 'float32');
    const scaled = tf.div(image, 255);
    return tf.expandDims(tf.div(tf.sub(scaled, tf.tensor1d(input.mean)), tf.tensor1d(input.std)), 0) as tf.Tensor4D;
  });
}

/**
 * Writes a LayersModel as `model.json` + `weights.bin` (the tfjs layers-model layout that
 * `loadModelDir` and the trainer read) and `card` as `model-card.json`, each file atomically.
 */
export async function saveModelDir(model: tf.LayersModel, dir: string, card: object): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (artifacts.weightData === undefined || artifacts.weightSpecs === undefined) {
        throw new Error(`Model '${model.name}' produced no weights to save.`);
      }
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
      const manifest = {
        modelTopology: artifacts.modelTopology,
        format: 'layers-model',
        weightsManifest: [{ paths: ['./weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFileAtomic(path.join(dir, 'weights.bin'), weights);
      await writeFileAtomic(path.join(dir, 'model.json'), new TextEncoder().encode(JSON.stringify(manifest)));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  await writeFileAtomic(path.join(dir, 'model-card.json'), new TextEncoder().encode(`${JSON.stringify(card, null, 2)}\n`));
}
