import { readFile } from 'node:fs/promises';
import { loadLiteRtModel } from './litert-engine.ts';
import { loadTfjsTfliteModel } from './tfjs-tflite-engine.ts';
import { TFLITE_ENGINES, type LoadedTfliteModel, type TfliteEngine } from './tflite-model.ts';

/**
 * Loads a .tflite file (path or bytes) into LiteRT.js or tfjs-tflite behind one interface. Raises
 * `TfliteMicroOnlyError` for files only TFLite Micro accepts and `TfliteEngineUnsupportedError`
 * when the engine rejects the model's input or output types.
 */
export async function loadTfliteModel(source: string | Uint8Array, engine: TfliteEngine): Promise<LoadedTfliteModel> {
  if (!TFLITE_ENGINES.includes(engine)) {
    throw new Error(`Unknown TFLite engine '${String(engine)}'; use one of ${TFLITE_ENGINES.join(', ')}.`);
  }
  const label = typeof source === 'string' ? source : `(${source.length} bytes in memory)`;
  const bytes = typeof source === 'string' ? new Uint8Array(await readFile(source)) : source;
  return engine === 'litert' ? loadLiteRtModel(bytes, label) : loadTfjsTfliteModel(bytes, label);
}
