import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ModelFiles } from '../bundle/bundle-files.ts';
import type { InferenceEngine, LoadedModel, TensorDtype } from './engine.ts';
import { useTfjsBackend } from './tfjs-backend.ts';
import { installWasmGlobals } from './wasm-globals.ts';

type TfliteModule = typeof import('@tensorflow/tfjs-tflite');
let runtime: Promise<TfliteModule> | null = null;

async function loadRuntime(): Promise<TfliteModule> {
  runtime ??= (async () => {
    const tflite = await import('@tensorflow/tfjs-tflite');
    // The package's main entry lives in dist/; its wasm files are in the sibling wasm/ folder.
    const wasmDir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-tflite')), '..', 'wasm') + '/';
    tflite.setWasmPath(wasmDir);
    return tflite;
  })();
  return runtime;
}

function dtypeOf(name: string): TensorDtype {
  return (['float32', 'int32', 'bool'] as const).find((known) => known === name) ?? 'other';
}

/**
 * Runs `.tflite` models with @tensorflow/tfjs-tflite (TFLite's wasm interpreter with XNNPACK,
 * single-threaded in Node). Input and output tensors are tfjs tensors on the tfjs `cpu` backend.
 * The package reports int8 and uint8 tensors as int32; values are converted on the way in.
 */
export class TfjsTfliteEngine implements InferenceEngine {
  readonly name = 'tfjs-tflite';

  accepts(format: ModelFiles['format']): boolean {
    return format === 'tflite';
  }

  async load(model: ModelFiles): Promise<LoadedModel> {
    if (model.format !== 'tflite') throw new Error(`tfjs-tflite runs .tflite models only, not ${model.format}`);
    const tf = await useTfjsBackend('cpu');
    const tflite = await loadRuntime();
    const bytes = model.bytes.buffer.slice(model.bytes.byteOffset, model.bytes.byteOffset + model.bytes.byteLength) as ArrayBuffer;
    // tfjs-tflite loads its wasm module on the first model, so the globals are needed here.
    const restoreGlobals = installWasmGlobals();
    let loaded: Awaited<ReturnType<typeof tflite.loadTFLiteModel>>;
    try {
      loaded = await tflite.loadTFLiteModel(bytes, { numThreads: 1 });
    } finally {
      restoreGlobals();
    }
    const inputs = loaded.inputs.map((info) => ({ name: info.name, shape: [...(info.shape ?? [])], dtype: dtypeOf(info.dtype) }));
    const outputs = loaded.outputs.map((info) => ({ name: info.name, shape: [...(info.shape ?? [])], dtype: dtypeOf(info.dtype) }));
    const first = inputs[0];
    if (inputs.length !== 1 || !first) throw new Error(`tfjs-tflite: the model has ${inputs.length} inputs; the runtime feeds exactly one image tensor`);
    return {
      engine: this.name,
      inputs,
      outputs,
      async run(input) {
        await useTfjsBackend('cpu');
        const dtype = first.dtype === 'int32' ? 'int32' : 'float32';
        const values = input instanceof Float32Array || input instanceof Int32Array ? input : Int32Array.from(input);
        const tensor = tf.tensor(values, first.shape, dtype);
        try {
          const result = loaded.predict(tensor);
          const list = result instanceof tf.Tensor ? [result] : Array.isArray(result) ? result : outputs.map((info) => result[info.name]!);
          try {
            return await Promise.all(list.map(async (item) => Float32Array.from(await item.data())));
          } finally {
            for (const item of list) item.dispose();
          }
        } finally {
          tensor.dispose();
        }
      },
      liveTensors: () => tf.memory().numTensors,
      dispose: () => undefined,
    };
  }
}
