import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * Saves a tfjs LayersModel as `model.json` plus one `weights.bin` in `dir`, the layout that
 * createBundle and the tfjs engines read. Returns the model.json path.
 */
export async function saveTfjsModel(model: tf.LayersModel, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const modelPath = join(dir, 'model.json');
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      const weights = weightData === undefined ? new Uint8Array(0)
        : Array.isArray(weightData) ? Buffer.concat(weightData.map((part) => Buffer.from(part)))
        : Buffer.from(weightData);
      await writeFile(join(dir, 'weights.bin'), weights);
      const modelJson = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFile(modelPath, JSON.stringify(modelJson));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return modelPath;
}
