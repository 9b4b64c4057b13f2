import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** Lines that the Emscripten runtimes printed, newest last; errors are read from here. */
export const runtimeLog: string[] = [];
const MAX_LOG_LINES = 500;

function record(...parts: unknown[]): void {
  runtimeLog.push(parts.map(String).join(' '));
  if (runtimeLog.length > MAX_LOG_LINES) runtimeLog.splice(0, runtimeLog.length - MAX_LOG_LINES);
}

/** Console handed to the Emscripten scripts, so their INFO and ERROR lines go to `runtimeLog`, not stdout. */
const capturedConsole = { log: record, info: record, warn: record, error: record, debug: record };

function filePathOf(url: string): string {
  return url.startsWith('file:') ? new URL(url).pathname : url;
}

/** `fetch` for the Emscripten scripts that reads local paths from disk (Node's fetch rejects them). */
async function localFetch(url: string | URL, init?: RequestInit): Promise<Response> {
  const text = String(url);
  if (text.startsWith('/') || text.startsWith('file:')) {
    return new Response(readFileSync(filePathOf(text)), { headers: { 'Content-Type': 'application/wasm' } });
  }
  return fetch(url, init);
}

/**
 * Runs an Emscripten loader script as Node code and sets its `*ModuleFactory` on `globalThis`.
 * Inside the script `importScripts` is undefined, so it takes its Node path and reads the .wasm
 * file with `fs`.
 * Threaded builds are swapped for the single-threaded build beside them, because Node has no
 * Web Workers for their pthreads.
 */
function loadEmscriptenScript(url: string): void {
  const file = filePathOf(url).replace(/_threaded\.js$/, '.js');
  const code = readFileSync(file, 'utf8');
  const match = /var\s+(\w*ModuleFactory)\s*=/.exec(code);
  if (match === null) {
    throw new Error(`Script ${file} defines no ModuleFactory; it is not an Emscripten loader that this shim can run.`);
  }
  const factoryName = match[1]!;
  const run = new Function(
    'fetch',
    'importScripts',
    'require',
    '__filename',
    '__dirname',
    'module',
    'exports',
    'console',
    `${code}\n;return ${factoryName};`,
  ) as (...args: unknown[]) => unknown;
  const factory = run(localFetch, undefined, createRequire(file), file, path.dirname(file), undefined, undefined, capturedConsole);
  (globalThis as Record<string, unknown>)[factoryName] = factory;
}

/**
 * Installs the browser globals that LiteRT.js 2.5 and tfjs-tflite 0.0.1-alpha.10 expect and Node 20
 * lacks, and returns a function that removes `importScripts` again. `self` (both look up their
 * module factory on it) and `location` (tfjs-tflite reads `self.location.origin` to resolve
 * absolute wasm paths) stay. `importScripts` (both load their Emscripten script through it when
 * there is no `document`) must not stay, because other Emscripten builds such as
 * tfjs-backend-wasm would then take their Web Worker path. Existing globals are left alone.
 */
export function installWasmScriptGlobals(): () => void {
  const global = globalThis as Record<string, unknown>;
  if (global['self'] === undefined) global['self'] = globalThis;
  if (global['location'] === undefined) global['location'] = { origin: '', href: '' };
  if (global['importScripts'] !== undefined) return () => {};
  global['importScripts'] = loadEmscriptenScript;
  return () => {
    delete global['importScripts'];
  };
}
