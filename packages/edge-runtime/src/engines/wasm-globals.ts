import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { runInThisContext } from 'node:vm';
import type { Logger } from '@fieldloop/contracts';

/**
 * Globals that the browser builds of LiteRT.js (@litertjs/core 2.5) and tfjs-tflite
 * (0.0.1-alpha.10) expect and Node 20 lacks. Both load their emscripten loader script with
 * `importScripts` when `window` is undefined, and read the factory it defines from `self`:
 *
 * - `self` is set to `globalThis`.
 * - `importScripts(url)` reads the file from disk and runs it as a CommonJS-style function so the
 *   loader's `__dirname` and `require` work; the factory it defines (`ModuleFactory` for LiteRT,
 *   `tflite_web_api_ModuleFactory` for tfjs-tflite) is copied onto `self`.
 * - tfjs-tflite picks its threaded build when SharedArrayBuffer exists, which needs browser
 *   Workers, so the shim loads the single-threaded file of the same build instead, and hands the
 *   factory the `.wasm` bytes because its loader would `fetch()` a file path, which Node rejects.
 * - `location` is set to an empty origin, because tfjs-tflite prefixes it to absolute paths.
 *
 * The emscripten modules' print output goes to the logger set by setNativeLogger, at debug level.
 */
const FACTORY_NAMES = ['ModuleFactory', 'tflite_web_api_ModuleFactory'] as const;

type Factory = (options: Record<string, unknown>) => Promise<unknown>;
let nativeLogger: Logger | null = null;
let installed = false;
const recentLines: string[] = [];
let lineCount = 0;
const RECENT_LIMIT = 64;

/** Routes the wasm modules' own log lines to `log` (debug level), or drops them when null. */
export function setNativeLogger(log: Logger | null): void {
  nativeLogger = log;
}

function printNative(line: string): void {
  lineCount += 1;
  recentLines.push(line);
  if (recentLines.length > RECENT_LIMIT) recentLines.shift();
  nativeLogger?.debug({ source: 'wasm' }, line);
}

/** Returns a mark for nativeErrorsSince: the count of wasm log lines printed so far. */
export function nativeLogMark(): number {
  return lineCount;
}

/**
 * Returns up to `limit` distinct `ERROR` lines the wasm modules printed since `mark`, joined
 * with ` | `, because their thrown errors often name only a source line while the reason was
 * printed just before.
 */
export function nativeErrorsSince(mark: number, limit = 2): string {
  const fresh = recentLines.slice(Math.max(0, recentLines.length - (lineCount - mark)));
  const errors = [...new Set(fresh.filter((line) => line.startsWith('ERROR')))];
  return errors.slice(0, limit).join(' | ');
}

/**
 * Installs the globals and returns a function that removes `importScripts` again. `self` and
 * `location` stay, but `importScripts` must not outlive the load: emscripten modules loaded later
 * (the MCAP decompressors, for one) take its presence for a Web Worker and look for their wasm
 * file with fetch, which fails in Node.
 */
export function installWasmGlobals(): () => void {
  const scope = globalThis as Record<string, unknown>;
  if (!installed) {
    installed = true;
    scope.self ??= globalThis;
    scope.location ??= { origin: '', href: '' };
  }
  if (scope.importScripts !== undefined) return () => undefined;
  scope.importScripts = (...urls: string[]): void => {
    for (const url of urls) loadScript(url, scope);
  };
  return () => {
    delete scope.importScripts;
  };
}

function loadScript(requested: string, scope: Record<string, unknown>): void {
  const isTfliteWebApi = requested.includes('tflite_web_api_cc');
  const path = isTfliteWebApi ? requested.replace(/_threaded\.js$/, '.js') : requested;
  const code = readFileSync(path, 'utf8');
  const exportList = FACTORY_NAMES.map((name) => `${name}: typeof ${name} === 'undefined' ? undefined : ${name}`).join(', ');
  const wrapper = runInThisContext(
    `(function (__dirname, __filename, require, module, exports) {${code}\n;return { ${exportList} };})`,
    { filename: path },
  ) as (dir: string, file: string, require: NodeRequire, module: undefined, exports: undefined) => Record<string, Factory | undefined>;
  const factories = wrapper(dirname(path), path, createRequire(path), undefined, undefined);
  for (const name of FACTORY_NAMES) {
    const factory = factories[name];
    if (!factory) continue;
    const wasmBinary = isTfliteWebApi ? readFileSync(path.replace(/\.js$/, '.wasm')) : undefined;
    scope[name] = (options: Record<string, unknown> = {}) =>
      factory({ ...options, ...(wasmBinary ? { wasmBinary } : {}), print: printNative, printErr: printNative });
  }
}
