import type { InferenceEngine } from './engine.ts';
import { LiteRtEngine } from './litert-engine.ts';
import { tfjsNodeAvailable } from './tfjs-backend.ts';
import { TfjsEngine } from './tfjs-engine.ts';
import { TfjsTfliteEngine } from './tfjs-tflite-engine.ts';

/**
 * Returns the engines of this process: LiteRT.js and tfjs-tflite for `.tflite`, tfjs on wasm
 * and cpu for tfjs models, and tfjs on native TensorFlow when @tensorflow/tfjs-node loads.
 */
export async function defaultEngines(): Promise<InferenceEngine[]> {
  const engines: InferenceEngine[] = [new LiteRtEngine(), new TfjsTfliteEngine(), new TfjsEngine('wasm'), new TfjsEngine('cpu')];
  if (await tfjsNodeAvailable()) engines.push(new TfjsEngine('tensorflow'));
  return engines;
}
