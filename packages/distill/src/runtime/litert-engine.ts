import { createRequire } from 'node:module';
import path from 'node:path';
import { LITERT_WEBGPU_WARNING, withoutConsoleWarning } from '@fieldloop/contracts';
import type { CompiledModel, Tensor as LiteRtTensor } from '@litertjs/core';
import { findInvalidQuantizedDimension, pinInputBatch, readTfliteInfo } from '../tflite/read-tflite.ts';
import {
  TfliteEngineUnsupportedError,
  TfliteMicroOnlyError,
  orderFeeds,
  type LoadedTfliteModel,
  type TfliteArray,
  type TfliteDType,
  type TfliteTensorSpec,
} from './tflite-model.ts';
import { installWasmScriptGlobals, runtimeLog } from './wasm-script-globals.ts';

type LiteRtModule = typeof import('@litertjs/core');

let liteRt: Promise<LiteRtModule> | undefined;

/** Directory of the LiteRT.js wasm files inside the installed `@litertjs/core` package. */
export function liteRtWasmDir(): string {
  const entry = createRequire(import.meta.url).resolve('@litertjs/core');
  return `${path.resolve(path.dirname(entry), '..', 'wasm')}/`;
}

async function loadLiteRtModule(): Promise<LiteRtModule> {
  const module = await import('@litertjs/core');
  // LiteRT.js keeps one runtime per process; join one that other code in this process loaded.
  const loading = module.getGlobalLiteRtPromise();
  if (loading) {
    await loading;
    return module;
  }
  const restore = installWasmScriptGlobals();
  try {
    // loadLiteRt always tries to create a WebGPU device and warns when it fails, with a stack
    // trace. The wasm (XNNPACK) CPU path needs no GPU, so that one warning is dropped.
    await withoutConsoleWarning(LITERT_WEBGPU_WARNING, () => module.loadLiteRt(liteRtWasmDir()));
  } finally {
    restore();
  }
  return module;
}

/** Loads the LiteRT.js wasm runtime once per process. */
function getLiteRt(): Promise<LiteRtModule> {
  liteRt ??= loadLiteRtModule().catch((error: unknown) => {
    liteRt = undefined;
    throw error;
  });
  return liteRt;
}

const TFLITE_INT8 = 9;
const TFLITE_UINT8 = 3;

function recentRuntimeErrors(since: number): string {
  return runtimeLog
    .slice(since)
    .filter((line) => line.startsWith('ERROR'))
    .slice(0, 4)
    .join(' | ');
}

function toSpec(details: { name: string; dtype: string; shape: Int32Array }): TfliteTensorSpec {
  return { name: details.name, dtype: details.dtype as TfliteDType, shape: Array.from(details.shape, (d) => (d < 0 ? 1 : d)) };
}

/**
 * Loads a .tflite file into LiteRT.js 2.5 (wasm CPU accelerator, XNNPACK). What LiteRT.js 2.5
 * accepts in Node, as measured:
 * - float32 inputs and outputs; it rejects int8 and uint8 model inputs and outputs
 *   ("Element type INT8 is not supported"), so int8 models need float32 edges;
 * - fixed shapes only: a `[-1, ...]` shape signature makes it reject batch-1 input tensors, so the
 *   batch is pinned to 1 in memory before compiling;
 * - no per-channel `quantized_dimension` outside the tensor's rank (TFLite Micro files).
 */
export async function loadLiteRtModel(bytes: Uint8Array, label: string): Promise<LoadedTfliteModel> {
  const info = readTfliteInfo(bytes);
  const invalid = findInvalidQuantizedDimension(info);
  if (invalid !== undefined) {
    throw new TfliteMicroOnlyError(label, `tensor '${invalid.name}' has quantized_dimension ${invalid.quantizedDimension} for rank ${invalid.shape.length}`);
  }
  for (const index of [...info.inputs, ...info.outputs]) {
    const tensor = info.tensors[index];
    if (tensor !== undefined && (tensor.type === TFLITE_INT8 || tensor.type === TFLITE_UINT8)) {
      throw new TfliteEngineUnsupportedError(
        'litert',
        `LiteRT.js 2.5 rejects model ${label}: its input or output tensor '${tensor.name}' is ${tensor.type === TFLITE_INT8 ? 'int8' : 'uint8'}. ` +
          "Load it with engine 'tfjs-tflite', or export it with float32 input and output.",
      );
    }
  }
  const module = await getLiteRt();
  const logStart = runtimeLog.length;
  let compiled: CompiledModel;
  try {
    compiled = await module.loadAndCompile(pinInputBatch(bytes, info), { accelerator: 'wasm' });
  } catch (error) {
    const detail = recentRuntimeErrors(logStart);
    throw new Error(`LiteRT.js failed to compile model ${label}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}${detail ? ` (${detail})` : ''}`, {
      cause: error,
    });
  }
  const inputs = compiled.getInputDetails().map(toSpec);
  const outputs = compiled.getOutputDetails().map(toSpec);
  return {
    engine: 'litert',
    inputs,
    outputs,
    async run(feeds: Record<string, TfliteArray>): Promise<Record<string, TfliteArray>> {
      const ordered = orderFeeds(inputs, feeds);
      // Every input is float32 or int32 here, because int8 and uint8 inputs were rejected at load.
      const tensors = ordered.map((feed, i) => {
        const data = feed instanceof Float32Array || feed instanceof Int32Array ? feed : Float32Array.from(feed);
        return new module.Tensor(data, inputs[i]!.shape);
      });
      let results: LiteRtTensor[] = [];
      try {
        results = await compiled.run(tensors);
        const out: Record<string, TfliteArray> = {};
        results.forEach((tensor, i) => {
          out[outputs[i]!.name] = tensor.toTypedArray().slice() as TfliteArray;
        });
        return out;
      } finally {
        for (const tensor of tensors) tensor.delete();
        for (const tensor of results) tensor.delete();
      }
    },
    close(): void {
      compiled.delete();
    },
  };
}
