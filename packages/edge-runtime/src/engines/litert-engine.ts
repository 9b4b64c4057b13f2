import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { LITERT_WEBGPU_WARNING, withoutConsoleWarning } from '@fieldloop/contracts';
import type { ModelFiles } from '../bundle/bundle-files.ts';
import type { InferenceEngine, LoadedModel, TensorDtype, TensorInfo } from './engine.ts';
import { removeShapeSignatures } from './remove-shape-signatures.ts';
import { installWasmGlobals } from './wasm-globals.ts';

type LiteRtModule = typeof import('@litertjs/core');
let runtime: Promise<LiteRtModule> | null = null;

/** Loads the LiteRT.js wasm runtime once per process, from the package's own `wasm/` folder. */
async function loadRuntime(): Promise<LiteRtModule> {
  runtime ??= (async () => {
    const litert = await import('@litertjs/core');
    // LiteRT.js keeps one runtime per process; join one that other code in this process loaded.
    const loading = litert.getGlobalLiteRtPromise();
    if (loading) {
      await loading;
      return litert;
    }
    const wasmDir = join(dirname(createRequire(import.meta.url).resolve('@litertjs/core')), '..', 'wasm') + '/';
    const restoreGlobals = installWasmGlobals();
    try {
      // loadLiteRt always tries to create a WebGPU device and warns when it fails, with a stack
      // trace. Node has no WebGPU and the runtime names the CPU engine it uses, so that one warning is dropped.
      await withoutConsoleWarning(LITERT_WEBGPU_WARNING, () => litert.loadLiteRt(wasmDir));
    } finally {
      restoreGlobals();
    }
    return litert;
  })();
  try {
    return await runtime;
  } catch (error) {
    runtime = null;
    throw error;
  }
}

function dtypeOf(name: string): TensorDtype {
  return (['float32', 'int32', 'int8', 'uint8', 'bool'] as const).find((known) => known === name) ?? 'other';
}

/** Runs `.tflite` models with LiteRT.js on its XNNPACK wasm CPU path. */
export class LiteRtEngine implements InferenceEngine {
  readonly name = 'litert';

  accepts(format: ModelFiles['format']): boolean {
    return format === 'tflite';
  }

  async load(model: ModelFiles): Promise<LoadedModel> {
    if (model.format !== 'tflite') throw new Error(`litert runs .tflite models only, not ${model.format}`);
    const litert = await loadRuntime();
    const describe = (details: readonly { name: string; dtype: string; shape: ArrayLike<number> }[]): TensorInfo[] =>
      details.map((detail) => ({ name: detail.name, dtype: dtypeOf(detail.dtype), shape: Array.from(detail.shape) }));
    const isDynamic = (infos: readonly TensorInfo[]): TensorInfo | undefined => infos.find((info) => info.shape.some((dim) => dim < 0));
    let compiled = await litert.loadAndCompile(model.bytes, { accelerator: 'wasm' });
    if (isDynamic([...describe(compiled.getInputDetails()), ...describe(compiled.getOutputDetails())])) {
      // @litertjs/core 2.5 builds tensor buffers from the declared shape and fails on -1, so a
      // dynamic-batch model is recompiled with its static batch-1 shapes.
      compiled.delete();
      compiled = await litert.loadAndCompile(removeShapeSignatures(model.bytes), { accelerator: 'wasm' });
    }
    const inputs = describe(compiled.getInputDetails());
    const outputs = describe(compiled.getOutputDetails());
    const first = inputs[0];
    if (inputs.length !== 1 || !first) {
      compiled.delete();
      throw new Error(`litert: the model has ${inputs.length} inputs; the runtime feeds exactly one image tensor`);
    }
    const dynamic = isDynamic([...inputs, ...outputs]);
    if (dynamic) {
      compiled.delete();
      throw new Error(`litert: tensor ${dynamic.name} has the dynamic shape [${dynamic.shape.join(', ')}], which LiteRT.js cannot run; export with a fixed batch size of 1`);
    }
    let live = 0;
    return {
      engine: this.name,
      inputs,
      outputs,
      async run(input) {
        const tensor = new litert.Tensor(input as Float32Array<ArrayBuffer>, first.shape);
        live += 1;
        let results: InstanceType<LiteRtModule['Tensor']>[] = [];
        try {
          results = await compiled.run([tensor]);
          live += results.length;
          return results.map((result) => Float32Array.from(result.toTypedArray() as ArrayLike<number>));
        } finally {
          tensor.delete();
          live -= 1;
          for (const result of results) {
            result.delete();
            live -= 1;
          }
        }
      },
      liveTensors: () => live,
      dispose: () => compiled.delete(),
    };
  }
}
