import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { buildTfliteModel } from './build-tflite-model.ts';
import { convertLayersModel } from './convert-layers-model.ts';
import { calibrateRanges } from './quantize.ts';
import { writeTfliteModel } from './write-flatbuffer.ts';

/** Name of the TFLite metadata entry that stores the model card JSON. */
export const MODEL_CARD_METADATA_NAME = 'fieldloop_model_card';

export interface ExportTfliteOptions {
  /** Full-integer int8 export, calibrated on these batch-1 float inputs (NHWC, normalised). */
  calibration?: Iterable<tf.Tensor>;
  /** JSON object stored as TFLite metadata `fieldloop_model_card` (heads, input, labels). */
  modelCard?: unknown;
  description?: string;
  /** Tensors that keep their name in the file; see `BuildOptions.tensorNames`. Default `signature`. */
  tensorNames?: 'signature' | 'all';
}

/**
 * Converts a tfjs LayersModel into TFLite flatbuffer bytes: float32, or int8 when calibration
 * samples are given. Raises `UnsupportedLayerError` naming the first layer it cannot export.
 */
export function exportTflite(model: tf.LayersModel, options: ExportTfliteOptions = {}): Uint8Array {
  const graph = convertLayersModel(model);
  const int8Ranges = options.calibration === undefined ? undefined : calibrateRanges(graph, options.calibration);
  const metadata =
    options.modelCard === undefined
      ? []
      : [{ name: MODEL_CARD_METADATA_NAME, data: new TextEncoder().encode(JSON.stringify(options.modelCard)) }];
  const data = buildTfliteModel(graph, {
    description: options.description ?? `fieldloop export of ${model.name}`,
    metadata,
    ...(int8Ranges ? { int8Ranges } : {}),
    ...(options.tensorNames ? { tensorNames: options.tensorNames } : {}),
  });
  return writeTfliteModel(data);
}

/** Writes bytes to `file` through a temporary file and a rename, so no partial file appears. */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Exports `model` and writes the file atomically; nothing is written when the export fails. */
export async function exportTfliteFile(model: tf.LayersModel, file: string, options: ExportTfliteOptions = {}): Promise<number> {
  const bytes = exportTflite(model, options);
  await writeFileAtomic(file, bytes);
  return bytes.length;
}
