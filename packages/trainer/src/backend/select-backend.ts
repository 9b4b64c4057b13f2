import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerBatchNormGradient } from './batch-norm-gradient.ts';
import { registerWasmGradientKernels } from './wasm-gradient-kernels.ts';

/** Backends in the order `selectBackend` tries them when none is requested. */
export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** The backend in use and why it was chosen. */
export interface BackendSelection {
  name: BackendName;
  /** Name of the tfjs backend, as `tf.getBackend()` returns it. */
  tfBackend: string;
  reason: string;
  /** Versions of tfjs packages that were found, by package name. */
  versions: Record<string, string>;
  /** Why each faster backend was skipped, by backend name. */
  skipped: Partial<Record<BackendName, string>>;
  /** For wasm: whether SIMD and threads are used, and the thread count. */
  wasm?: { simd: boolean; threads: boolean; threadCount: number };
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string | null {
  try {
    const manifest = require(`${name}/package.json`) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : null;
  } catch {
    return null;
  }
}

function foundVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of [
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
  ]) {
    const version = packageVersion(name);
    if (version !== null) versions[name] = version;
  }
  return versions;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
}

/** Imports a native tfjs package and switches to its `tensorflow` backend; throws with the reason on failure. */
async function loadNative(packageName: string): Promise<void> {
  await import(packageName);
  const ok = await tf.setBackend('tensorflow');
  if (!ok) throw new Error(`${packageName} loaded but its 'tensorflow' backend failed to initialise.`);
}

let wasmPathsSet = false;

async function loadWasm(): Promise<BackendSelection['wasm']> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    // In Node the backend reads its .wasm binaries from disk; they ship in the package's dist folder.
    const distDir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    wasm.setWasmPaths(`${distDir}/`);
    wasmPathsSet = true;
  }
  registerWasmGradientKernels();
  registerBatchNormGradient();
  const ok = await tf.setBackend('wasm');
  if (!ok) throw new Error(`The wasm backend failed to initialise from ${require.resolve('@tensorflow/tfjs-backend-wasm')}.`);
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const threads = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
  return { simd, threads, threadCount: wasm.getThreadsCount() };
}

async function tryBackend(name: BackendName): Promise<BackendSelection['wasm'] | undefined> {
  switch (name) {
    case 'tfjs-node-gpu':
      await loadNative('@tensorflow/tfjs-node-gpu');
      return undefined;
    case 'tfjs-node':
      await loadNative('@tensorflow/tfjs-node');
      return undefined;
    case 'wasm':
      return loadWasm();
    case 'cpu': {
      const ok = await tf.setBackend('cpu');
      if (!ok) throw new Error('The cpu backend failed to initialise.');
      return undefined;
    }
  }
}

export function isBackendName(value: unknown): value is BackendName {
  return typeof value === 'string' && (BACKEND_NAMES as readonly string[]).includes(value);
}

/**
 * Activates a tfjs backend. Without `requested` it tries tfjs-node-gpu, tfjs-node, wasm and cpu
 * in that order and takes the first that loads. A requested backend that fails to load raises an
 * error with the reason and the tfjs versions found; it never falls back to another backend.
 */
export async function selectBackend(requested?: BackendName): Promise<BackendSelection> {
  if (requested !== undefined && !isBackendName(requested)) {
    throw new Error(`Unknown backend '${String(requested)}'. Use one of: ${BACKEND_NAMES.join(', ')}.`);
  }
  const versions = foundVersions();
  const candidates: readonly BackendName[] = requested === undefined ? BACKEND_NAMES : [requested];
  const skipped: Partial<Record<BackendName, string>> = {};
  for (const name of candidates) {
    try {
      const wasm = await tryBackend(name);
      await tf.ready();
      const reason =
        requested !== undefined
          ? `requested with --backend ${name}`
          : Object.keys(skipped).length === 0
            ? `${name} is the fastest backend available`
            : `${name} is the fastest backend that loaded (skipped: ${Object.keys(skipped).join(', ')})`;
      const selection: BackendSelection = { name, tfBackend: tf.getBackend(), reason, versions, skipped };
      if (wasm !== undefined) selection.wasm = wasm;
      return selection;
    } catch (error) {
      skipped[name] = describeError(error);
      if (requested !== undefined) {
        const found = Object.entries(versions)
          .map(([pkg, version]) => `${pkg}@${version}`)
          .join(', ');
        const hint =
          name === 'tfjs-node-gpu'
            ? ' It needs @tensorflow/tfjs-node-gpu installed with a CUDA toolkit and cuDNN that match its libtensorflow.'
            : '';
        throw new Error(
          `Backend ${name} was requested but failed to load: ${skipped[name]}.${hint} ` +
            `Versions found: ${found === '' ? 'none' : found}. Choose another --backend or install the package.`,
        );
      }
    }
  }
  throw new Error(`No tfjs backend could be loaded: ${JSON.stringify(skipped)}.`);
}
