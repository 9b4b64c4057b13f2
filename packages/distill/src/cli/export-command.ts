import { stat } from 'node:fs/promises';
import type { CliCommand, CliResult } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import * as tf from '@tensorflow/tfjs';
import { exportTfliteFile } from '../tflite/export-tflite.ts';
import { preparePixels } from '../data/store-samples.ts';
import { loadModelDir, type ModelCard } from './load-model-dir.ts';

/**
 * Reads up to `limit` train-split inputs of a snapshot as normalised batch-1 tensors, resized to
 * the model input as training resizes them, so a store that mixes image sizes calibrates too.
 */
async function calibrationSamples(storeDir: string, snapshot: number | undefined, card: ModelCard, limit: number): Promise<tf.Tensor[]> {
  const store = await DatasetStore.open(storeDir, { readOnly: true });
  try {
    const snapshots = store.listSnapshots();
    const version = snapshot ?? snapshots.at(-1)?.version;
    if (version === undefined) throw new Error(`Store ${storeDir} has no snapshot; ingest data before calibrating.`);
    const samples: tf.Tensor[] = [];
    for (const record of store.samples(version, { split: 'train' })) {
      if (samples.length >= limit) break;
      const pixels = preparePixels(new Uint8Array(await store.readInput(record)), record.width, record.height, card.input);
      samples.push(tf.tensor4d(pixels, [1, card.input.height, card.input.width, 3]));
    }
    if (samples.length === 0) throw new Error(`Snapshot ${version} of ${storeDir} has no train samples to calibrate on.`);
    return samples;
  } finally {
    await store.close();
  }
}

/** `fieldloop export`: writes a tfjs model directory as a float32 or int8 TFLite file. */
export const exportCommand: CliCommand = {
  name: 'export',
  summary: 'export a tfjs model directory as a TFLite file (float32, or int8 calibrated on a snapshot)',
  description:
    'Converts a tfjs LayersModel (model.json with model-card.json beside it) into a TFLite flatbuffer with one ' +
    'named output per head in the serving_default signature and the model card stored as TFLite metadata. ' +
    'With --int8 the weights are quantized per output channel and activations per tensor from the ranges seen ' +
    'on train samples of --calibration-store; input and outputs stay float32 so LiteRT.js and tfjs-tflite both ' +
    'run the file. A layer that cannot be exported fails the command, and no file is written.',
  arguments: '',
  options: [
    { flags: '--model <dir>', description: 'tfjs model directory (model.json, weights, model-card.json)', required: true },
    { flags: '--out <file>', description: 'output .tflite path', required: true },
    { flags: '--int8', description: 'full-integer int8 export with float32 input and outputs', defaultValue: false },
    { flags: '--calibration-store <dir>', description: 'data set store whose train split calibrates int8 ranges' },
    { flags: '--snapshot <version>', description: 'snapshot version for calibration (default: the latest)' },
    { flags: '--calibration-samples <count>', description: 'number of calibration samples', defaultValue: '100' },
  ],
  async run(_args, options, context): Promise<CliResult> {
    const modelDir = String(options['model'] ?? '');
    const out = String(options['out'] ?? '');
    if (modelDir === '' || out === '') {
      return { exitCode: 2, summary: { error: 'missing option' }, text: 'Missing --model or --out; both are required.' };
    }
    const int8 = options['int8'] === true;
    const storeDir = options['calibrationStore'];
    if (int8 && typeof storeDir !== 'string') {
      return { exitCode: 2, summary: { error: 'missing option' }, text: '--int8 needs --calibration-store <dir> with a snapshot to calibrate on.' };
    }
    const { model, card } = await loadModelDir(modelDir);
    const limit = Number(options['calibrationSamples'] ?? 100);
    const snapshot = options['snapshot'] === undefined ? undefined : Number(options['snapshot']);
    const calibration = int8 ? await calibrationSamples(String(storeDir), snapshot, card, limit) : undefined;
    context.log.info({ model: modelDir, out, int8, calibrationSamples: calibration?.length ?? 0 }, 'exporting TFLite model');
    const bytes = await exportTfliteFile(model, out, { modelCard: { heads: card.heads, input: card.input }, ...(calibration ? { calibration } : {}) });
    for (const sample of calibration ?? []) sample.dispose();
    const size = (await stat(out)).size;
    const summary = { out, int8, bytes: size, parameters: model.countParams(), heads: card.heads.map((h) => h.name) };
    return { exitCode: 0, summary, text: `wrote ${out} (${int8 ? 'int8' : 'float32'}, ${bytes} bytes, ${summary.parameters} parameters, heads ${summary.heads.join(', ')})` };
  },
};
