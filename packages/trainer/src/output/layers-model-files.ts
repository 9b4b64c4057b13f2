import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Writes a LayersModel as `model.json` and `weights.bin` in the tfjs layers-model format, the
 * layout that tfjs-node's `file://` handler writes and `tf.loadLayersModel` reads. Each file is
 * written to a temporary name and renamed, so a kill never leaves a half-written file.
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (artifacts.weightData === undefined || artifacts.weightSpecs === undefined) {
        throw new Error('The model produced no weights to save.');
      }
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const manifest = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs }],
      };
      await writeAtomically(join(dir, WEIGHTS_FILE), new Uint8Array(weightData));
      await writeAtomically(join(dir, MODEL_FILE), JSON.stringify(manifest));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

export async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}

/** Loads a LayersModel written by `saveLayersModel` (or any single-shard tfjs layers model) from `dir`. */
export async function loadLayersModel(dir: string): Promise<tf.LayersModel> {
  let manifestText: string;
  try {
    manifestText = await readFile(join(dir, MODEL_FILE), 'utf8');
  } catch (error) {
    throw new Error(`Cannot read ${join(dir, MODEL_FILE)}: ${(error as Error).message}. Pass the output directory of 'fieldloop train'.`);
  }
  const manifest = JSON.parse(manifestText) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  const weightSpecs = manifest.weightsManifest.flatMap((group) => group.weights);
  const buffers = await Promise.all(
    manifest.weightsManifest.flatMap((group) => group.paths).map(async (path) => {
      const bytes = await readFile(join(dir, path));
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }),
  );
  const weightData = tf.io.CompositeArrayBuffer.join(buffers);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: manifest.modelTopology, weightSpecs, weightData }));
}
