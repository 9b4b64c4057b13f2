import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TFJS_CPU_BANNER, withoutConsoleWarning } from '@fieldloop/contracts';
import { findInvalidQuantizedDimension, readTfliteInfo } from '../tflite/read-tflite.ts';
import { TfliteMicroOnlyError, orderFeeds, type LoadedTfliteModel, type TfliteArray, type TfliteDType, type TfliteTensorSpec } from './tflite-model.ts';
import { installWasmScriptGlobals, runtimeLog } from './wasm-script-globals.ts';

type TfjsTfliteModule = typeof import('@tensorflow/tfjs-tflite');

let tfjsTflite: Promise<TfjsTfliteModule> | undefined;

/** Directory of the tfjs-tflite wasm files inside the installed `@tensorflow/tfjs-tflite` package. */
export function tfjsTfliteWasmDir(): string {
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-tflite');
  return `${path.resolve(path.dirname(entry), '..', 'wasm')}/`;
}

function getTfjsTflite(): Promise<TfjsTfliteModule> {
  tfjsTflite ??= import('@tensorflow/tfjs-tflite').then((module) => {
    module.setWasmPath(tfjsTfliteWasmDir());
    return module;
  });
  return tfjsTflite;
}

/** Strips the `serving_default_` prefix and `:0` suffix that tfjs-tflite adds to some tensor names. */
function plainName(name: string): string {
  return name.replace(/^serving_default_/, '').replace(/:\d+$/, '');
}

/**
 * Loads a .tflite file into tfjs-tflite 0.0.1-alpha.10 (TFLite web API, single-threaded SIMD wasm
 * with XNNPACK). What it accepts in Node, as measured: float32, int8 and uint8 inputs and outputs
 * (int8 values cross as int32 tensors), fixed or dynamic batch. It rejects per-channel
 * `quantized_dimension` outside the tensor's rank, as the full interpreter does.
 */
export async function loadTfjsTfliteModel(bytes: Uint8Array, label: string): Promise<LoadedTfliteModel> {
  const info = readTfliteInfo(bytes);
  const invalid = findInvalidQuantizedDimension(info);
  if (invalid !== undefined) {
    throw new TfliteMicroOnlyError(label, `tensor '${invalid.name}' has quantized_dimension ${invalid.quantizedDimension} for rank ${invalid.shape.length}`);
  }
  const module = await getTfjsTflite();
  // The tensors that carry feeds live on the active tfjs backend, which is cpu when no other was
  // chosen. Its first tensor prints a banner recommending tfjs-node; this engine does no tfjs
  // compute, so the banner is dropped.
  await withoutConsoleWarning(TFJS_CPU_BANNER, () => tf.scalar(0).dispose());
  const logStart = runtimeLog.length;
  const restore = installWasmScriptGlobals();
  let model: Awaited<ReturnType<TfjsTfliteModule['loadTFLiteModel']>>;
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // numThreads must be set: its default reads `navigator.hardwareConcurrency`, which Node 20 lacks.
    model = await module.loadTFLiteModel(buffer, { numThreads: 1 });
  } catch (error) {
    const detail = runtimeLog.slice(logStart).filter((l) => l.startsWith('ERROR')).slice(0, 4).join(' | ');
    throw new Error(`tfjs-tflite failed to load model ${label}: ${error instanceof Error ? error.message : String(error)}${detail ? ` (${detail})` : ''}`, {
      cause: error,
    });
  } finally {
    restore();
  }
  const toSpec = (t: { name: string; shape?: number[]; dtype: string }, index: number, fromFile: number[]): TfliteTensorSpec => {
    const fileTensor = info.tensors[fromFile[index]!];
    const int8 = fileTensor?.type === 9;
    return {
      name: plainName(t.name),
      shape: (t.shape ?? []).map((d) => (d < 0 ? 1 : d)),
      dtype: int8 ? 'int8' : (t.dtype as TfliteDType),
    };
  };
  const inputs = model.inputs.map((t, i) => toSpec(t, i, info.inputs));
  const outputs = model.outputs.map((t, i) => toSpec(t, i, info.outputs));
  const rawOutputNames = model.outputs.map((t) => t.name);
  return {
    engine: 'tfjs-tflite',
    inputs,
    outputs,
    async run(feeds: Record<string, TfliteArray>): Promise<Record<string, TfliteArray>> {
      const ordered = orderFeeds(inputs, feeds);
      const tensors = ordered.map((feed, i) => {
        const spec = inputs[i]!;
        const dtype = spec.dtype === 'float32' ? 'float32' : 'int32';
        return tf.tensor(dtype === 'float32' ? Float32Array.from(feed) : Int32Array.from(feed), spec.shape, dtype);
      });
      try {
        const result = model.predict(tensors.length === 1 ? tensors[0]! : tensors);
        const out: Record<string, TfliteArray> = {};
        const collect = (tensor: tf.Tensor, name: string): void => {
          out[plainName(name)] = tensor.dataSync().slice() as TfliteArray;
          tensor.dispose();
        };
        if (result instanceof tf.Tensor) {
          collect(result, rawOutputNames[0]!);
        } else if (Array.isArray(result)) {
          result.forEach((tensor, i) => collect(tensor, rawOutputNames[i]!));
        } else {
          for (const [name, tensor] of Object.entries(result)) collect(tensor, name);
        }
        return out;
      } finally {
        for (const tensor of tensors) tensor.dispose();
      }
    },
    close(): void {
      // tfjs-tflite 0.0.1-alpha.10 exposes no way to free a model runner; its wasm memory stays until exit.
    },
  };
}
