import type { ModelFiles } from '../../src/bundle/bundle-files.ts';
import type { InferenceEngine, LoadedModel } from '../../src/engines/engine.ts';

/**
 * Test-only engine wrapper that adds a fixed delay to every run after the first `afterRuns`
 * runs, to stand for a model that blows the latency budget (at once, or only once serving).
 * Used ONLY by the latency-budget test cases.
 */
export class DelayedEngineForLatencyTest implements InferenceEngine {
  readonly name: string;
  constructor(
    private readonly inner: InferenceEngine,
    private readonly delayMs: number,
    private readonly afterRuns = 0,
  ) {
    this.name = `${inner.name}+delay${delayMs}ms`;
  }
  accepts(format: ModelFiles['format']): boolean {
    return this.inner.accepts(format);
  }
  async load(model: ModelFiles): Promise<LoadedModel> {
    const loaded = await this.inner.load(model);
    const { delayMs, afterRuns } = this;
    let runs = 0;
    return {
      engine: this.name,
      inputs: loaded.inputs,
      outputs: loaded.outputs,
      async run(input) {
        runs += 1;
        if (runs > afterRuns) await new Promise((resolve) => setTimeout(resolve, delayMs));
        return loaded.run(input);
      },
      liveTensors: () => loaded.liveTensors(),
      dispose: () => loaded.dispose(),
    };
  }
}

/**
 * Test-only engine wrapper whose runs throw after the first `afterRuns`, to stand for an
 * inference crash during probation. Used ONLY by the crash rollback test case.
 */
export class FailingEngineForCrashTest implements InferenceEngine {
  readonly name: string;
  constructor(
    private readonly inner: InferenceEngine,
    private readonly afterRuns: number,
  ) {
    this.name = `${inner.name}+crash`;
  }
  accepts(format: ModelFiles['format']): boolean {
    return this.inner.accepts(format);
  }
  async load(model: ModelFiles): Promise<LoadedModel> {
    const loaded = await this.inner.load(model);
    const afterRuns = this.afterRuns;
    let runs = 0;
    return {
      engine: this.name,
      inputs: loaded.inputs,
      outputs: loaded.outputs,
      async run(input) {
        runs += 1;
        if (runs > afterRuns) throw new Error('simulated engine crash');
        return loaded.run(input);
      },
      liveTensors: () => loaded.liveTensors(),
      dispose: () => loaded.dispose(),
    };
  }
}
