import type { BundleManifest, Logger } from '@fieldloop/contracts';
import type { TrustedKey } from '../bundle/signing-keys.ts';
import { verifyBundle } from '../bundle/verify-bundle.ts';
import type { InferenceEngine, LoadedModel } from '../engines/engine.ts';
import { defaultEngines } from '../engines/default-engines.ts';
import { selectEngine, type EngineTrial } from '../engines/select-engine.ts';
import { decodeHead, mapHeadsToOutputs, type HeadPrediction } from './decode-outputs.ts';
import { imageToRgb, normalizeRgb, type FrameImage } from './preprocess.ts';

/** Decoded predictions of one frame by one model. */
export interface Prediction {
  model: { name: string; version: number };
  engine: string;
  /** Inference time (preprocessed input to decoded output), milliseconds. */
  latencyMs: number;
  heads: Record<string, HeadPrediction>;
}

export interface LoadPredictorOptions {
  trustedKeys: readonly TrustedKey[];
  engines?: readonly InferenceEngine[];
  /** Engine names to try, in order; default: all engines, fastest wins. */
  prefer?: string[];
  timedRuns?: number;
  log?: Logger;
}

/** A verified bundle loaded on its fastest engine: preprocesses frames, runs and decodes them. */
export class Predictor {
  readonly manifest: BundleManifest;
  readonly dir: string;
  readonly trials: EngineTrial[];
  private readonly model: LoadedModel;
  private readonly outputIndex: number[];

  private constructor(dir: string, manifest: BundleManifest, model: LoadedModel, trials: EngineTrial[]) {
    this.dir = dir;
    this.manifest = manifest;
    this.model = model;
    this.trials = trials;
    this.outputIndex = mapHeadsToOutputs(manifest.heads, model.outputs, manifest.model.outputs);
  }

  /** Verifies the bundle, picks the engine and checks that the model's input fits the InputSpec. */
  static async load(dir: string, options: LoadPredictorOptions): Promise<Predictor> {
    const bundle = await verifyBundle(dir, options.trustedKeys);
    const engines = options.engines ?? (await defaultEngines());
    const { model, trials } = await selectEngine(bundle.model, engines, { prefer: options.prefer, timedRuns: options.timedRuns, log: options.log });
    try {
      const input = model.inputs[0]!;
      const { width, height } = bundle.manifest.input;
      const size = input.shape.reduce((product, dim) => product * Math.max(dim, 1), 1);
      if (size !== width * height * 3) {
        throw new Error(`model input ${input.name} has shape [${input.shape.join(', ')}] but the manifest's input spec is ${width}x${height}x3`);
      }
      if (input.dtype !== 'float32') {
        throw new Error(`model input ${input.name} is ${input.dtype}; the runtime feeds normalised float32, so export the model with a float32 input`);
      }
      return new Predictor(dir, bundle.manifest, model, trials);
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  get engine(): string {
    return this.model.engine;
  }

  /** Mean latency of the engine's timed runs at load, in milliseconds. */
  get loadLatencyMs(): number {
    return this.trials.find((trial) => trial.engine === this.model.engine)?.meanMs ?? Number.NaN;
  }

  liveTensors(): number {
    return this.model.liveTensors();
  }

  /** Decodes, resizes and runs one image. */
  async predictImage(image: FrameImage, origin: string): Promise<Prediction> {
    return this.predictRgb(await imageToRgb(image, this.manifest.input, origin));
  }

  /** Runs RGB bytes already at the input size. */
  async predictRgb(rgb: Uint8Array): Promise<Prediction> {
    const start = performance.now();
    const input = normalizeRgb(rgb, this.manifest.input);
    const outputs = await this.model.run(input);
    const heads: Record<string, HeadPrediction> = {};
    this.manifest.heads.forEach((head, index) => {
      heads[head.name] = decodeHead(head, outputs[this.outputIndex[index]!] ?? new Float32Array([Number.NaN]));
    });
    return {
      model: { name: this.manifest.name, version: this.manifest.version },
      engine: this.model.engine,
      latencyMs: performance.now() - start,
      heads,
    };
  }

  dispose(): void {
    this.model.dispose();
  }
}
