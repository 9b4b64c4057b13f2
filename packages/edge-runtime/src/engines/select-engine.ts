import type { Logger } from '@fieldloop/contracts';
import type { ModelFiles } from '../bundle/bundle-files.ts';
import { zeroInput, type InferenceEngine, type LoadedModel } from './engine.ts';
import { nativeErrorsSince, nativeLogMark } from './wasm-globals.ts';

/** Result of one engine's trial run of a model at load. */
export interface EngineTrial {
  engine: string;
  ok: boolean;
  /** Mean latency of the timed runs, in milliseconds, when the engine ran the model. */
  meanMs?: number;
  /** The engine's error when it could not load or run the model. */
  error?: string;
}

/** Raised when no engine can run a model; the message names each engine's failure. */
export class NoEngineError extends Error {
  readonly trials: EngineTrial[];
  constructor(trials: EngineTrial[]) {
    const detail = trials.map((trial) => `${trial.engine}: ${trial.error ?? 'not tried'}`).join('; ');
    super(`no engine can run the model (${detail}); export the model with ops and types these engines support`);
    this.name = 'NoEngineError';
    this.trials = trials;
  }
}

export interface SelectEngineOptions {
  /** Engine names in preference order; only these are tried. Default: every engine given. */
  prefer?: string[];
  /** Timed runs per engine after one warm-up run. Default 5. */
  timedRuns?: number;
  log?: Logger;
}

/**
 * Loads the model on every engine that accepts its format, times a few runs on a zero input,
 * keeps the fastest and disposes the rest. An engine that fails to load or run is recorded with
 * its error and the next one is tried. Throws NoEngineError when none succeeds.
 */
export async function selectEngine(
  model: ModelFiles,
  engines: readonly InferenceEngine[],
  options: SelectEngineOptions = {},
): Promise<{ model: LoadedModel; trials: EngineTrial[] }> {
  const timedRuns = options.timedRuns ?? 5;
  const candidates = (options.prefer ? options.prefer.map((name) => engines.find((engine) => engine.name === name)).filter((e) => e !== undefined) : [...engines])
    .filter((engine) => engine.accepts(model.format));
  const trials: EngineTrial[] = [];
  let best: { loaded: LoadedModel; meanMs: number } | null = null;
  for (const engine of candidates) {
    let loaded: LoadedModel | null = null;
    const mark = nativeLogMark();
    try {
      loaded = await engine.load(model);
      const input = zeroInput(loaded.inputs[0]!);
      await loaded.run(input);
      const start = performance.now();
      for (let i = 0; i < timedRuns; i += 1) await loaded.run(input);
      const meanMs = (performance.now() - start) / Math.max(timedRuns, 1);
      trials.push({ engine: engine.name, ok: true, meanMs });
      options.log?.debug({ engine: engine.name, meanMs }, 'engine ran the model');
      if (!best || meanMs < best.meanMs) {
        best?.loaded.dispose();
        best = { loaded, meanMs };
      } else {
        loaded.dispose();
      }
    } catch (error) {
      loaded?.dispose();
      const firstLine = error instanceof Error ? error.message.split('\n')[0]! : String(error);
      const printed = nativeErrorsSince(mark);
      const message = printed ? `${firstLine} (${printed})` : firstLine;
      trials.push({ engine: engine.name, ok: false, error: message });
      options.log?.warn({ engine: engine.name, error: message }, 'engine cannot run the model; trying the next one');
    }
  }
  if (!best) {
    if (trials.length === 0) trials.push({ engine: '(none)', ok: false, error: `no engine accepts ${model.format} models` });
    throw new NoEngineError(trials);
  }
  const reason = trials.map((trial) => (trial.ok ? `${trial.engine} ${trial.meanMs!.toFixed(3)} ms` : `${trial.engine} failed`)).join(', ');
  options.log?.info({ engine: best.loaded.engine, trials }, `using engine ${best.loaded.engine}: fastest of ${reason}`);
  return { model: best.loaded, trials };
}
