import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TFJS_CPU_BANNER, withoutConsoleWarning } from '@fieldloop/contracts';

/** tfjs backends the runtime uses. `tensorflow` exists only when @tensorflow/tfjs-node loads. */
export type TfjsBackendName = 'wasm' | 'cpu' | 'tensorflow';

let wasmRegistered: Promise<void> | null = null;
let nodeBackend: Promise<boolean> | null = null;

/**
 * Makes `name` the active tfjs backend and returns tfjs. tfjs has one active backend per
 * process, so engines on different backends switch before each run.
 */
export async function useTfjsBackend(name: TfjsBackendName): Promise<typeof tf> {
  if (tf.getBackend() === name) return tf;
  if (name === 'wasm') {
    wasmRegistered ??= (async () => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(`${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    })();
    await wasmRegistered;
  }
  if (name === 'tensorflow' && !(await tfjsNodeAvailable())) {
    throw new Error('tfjs backend tensorflow needs @tensorflow/tfjs-node, which is not installed');
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend ${name} failed to initialise`);
  if (name === 'cpu') await firstCpuTensorWithoutBanner();
  return tf;
}

let cpuBannerShown = false;

/**
 * tfjs's cpu backend prints a banner on its first tensor in Node that recommends
 * @tensorflow/tfjs-node. The runtime names its engine and backend itself. This makes that first
 * tensor with the banner filtered out; every other warning still reaches the console.
 */
async function firstCpuTensorWithoutBanner(): Promise<void> {
  if (cpuBannerShown) return;
  cpuBannerShown = true;
  await withoutConsoleWarning(TFJS_CPU_BANNER, () => tf.scalar(0).dispose());
}

/** Returns whether @tensorflow/tfjs-node (native TensorFlow) can be loaded in this process. */
export async function tfjsNodeAvailable(): Promise<boolean> {
  nodeBackend ??= (async () => {
    try {
      const moduleName = '@tensorflow/tfjs-node';
      await import(moduleName);
      return true;
    } catch {
      return false;
    }
  })();
  return nodeBackend;
}
