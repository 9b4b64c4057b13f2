import type { Logger } from '@fieldloop/contracts';
import type { PredictionSink } from '../outputs/prediction-sink.ts';
import type { Frame, FrameSource } from '../sources/frame-source.ts';
import { TriggerEngine } from '../triggers/trigger-engine.ts';
import type { Campaign } from '../triggers/campaign.ts';
import type { Uplink } from '../triggers/uplink.ts';
import { isFinitePrediction } from './decode-outputs.ts';
import { imageToRgb } from './preprocess.ts';
import type { Prediction, Predictor } from './predictor.ts';
import { RuntimeMetrics } from './runtime-metrics.ts';

/** Outcome of one frame's inference, for observers such as the update agent. */
export type InferenceEvent =
  | { kind: 'prediction'; version: number; prediction: Prediction; finite: boolean }
  | { kind: 'error'; version: number; error: Error };

export interface EdgeRuntimeOptions {
  robot: string;
  log: Logger;
  output?: PredictionSink;
  uplink?: Uplink;
  campaign?: Campaign;
  /** Inferences slower than this count as over budget. Default: no budget. */
  latencyBudgetMs?: number;
}

/**
 * Runs frames through the active model (and a shadow model whose outputs are only compared),
 * writes predictions, captures samples by the campaign's triggers and keeps metrics. Bad frames
 * and failed inferences are counted and skipped; they never end the run.
 */
export class EdgeRuntime {
  readonly metrics = new RuntimeMetrics();
  private active: Predictor | null = null;
  private shadow: Predictor | null = null;
  private triggers: TriggerEngine | null;
  private readonly options: EdgeRuntimeOptions;
  private readonly observers = new Set<(event: InferenceEvent) => void>();

  constructor(options: EdgeRuntimeOptions) {
    this.options = options;
    this.triggers = options.campaign ? new TriggerEngine(options.campaign) : null;
  }

  get activeModel(): Predictor | null {
    return this.active;
  }

  /** Switches the active model; frames already in inference finish on the old one. Returns the old one. */
  setActive(predictor: Predictor | null): Predictor | null {
    const previous = this.active;
    this.active = predictor;
    return previous;
  }

  setShadow(predictor: Predictor | null): Predictor | null {
    const previous = this.shadow;
    this.shadow = predictor;
    return previous;
  }

  setCampaign(campaign: Campaign | null): void {
    this.triggers = campaign ? new TriggerEngine(campaign) : null;
  }

  observe(listener: (event: InferenceEvent) => void): () => void {
    this.observers.add(listener);
    return () => this.observers.delete(listener);
  }

  /** Runs one frame; returns the active model's prediction, or null when the frame was skipped. */
  async handleFrame(frame: Frame): Promise<Prediction | null> {
    const model = this.active;
    const log = this.options.log;
    this.metrics.frames += 1;
    if (!model) {
      this.metrics.errors += 1;
      log.warn({ frame: frame.id }, 'no active model; skipping frame');
      return null;
    }
    let rgb: Uint8Array;
    try {
      rgb = await imageToRgb(frame.image, model.manifest.input, frame.id);
    } catch (error) {
      this.metrics.malformed += 1;
      log.warn({ frame: frame.id, error: (error as Error).message, malformed: this.metrics.malformed }, 'skipping malformed frame');
      return null;
    }
    let prediction: Prediction;
    try {
      prediction = await model.predictRgb(rgb);
    } catch (error) {
      this.metrics.errors += 1;
      const failure = error instanceof Error ? error : new Error(String(error));
      log.error({ frame: frame.id, version: model.manifest.version, error: failure.message }, 'inference failed; skipping frame');
      this.emit({ kind: 'error', version: model.manifest.version, error: failure });
      // A failure in probation switches back to the previous model while listeners run, so the
      // frame goes to that model instead of being lost. The frame is counted once.
      if (this.active && this.active !== model) {
        this.metrics.frames -= 1;
        return this.handleFrame(frame);
      }
      return null;
    }
    this.metrics.recordLatency(prediction.latencyMs);
    const budget = this.options.latencyBudgetMs;
    if (budget !== undefined && prediction.latencyMs > budget) this.metrics.overBudget += 1;
    this.emit({ kind: 'prediction', version: model.manifest.version, prediction, finite: isFinitePrediction(prediction.heads) });
    const shadowPrediction = await this.runShadow(rgb, frame);
    await this.options.output?.write({ robot: this.options.robot, frameId: frame.id, source: frame.source, stamp: frame.stamp, prediction });
    await this.capture(frame, prediction, shadowPrediction);
    return prediction;
  }

  /**
   * Pulls frames from a source until it ends or the signal aborts. For live sources a reader
   * task keeps only the newest waiting frame: when a frame arrives while another is still
   * waiting, the waiting one is dropped and counted (newest frame wins).
   */
  async run(source: FrameSource, signal: AbortSignal): Promise<void> {
    this.metrics.restartClock();
    const malformedBefore = source.malformed;
    try {
      if (!source.live) {
        for await (const frame of source.frames(signal)) {
          if (signal.aborted) break;
          await this.handleFrame(frame);
        }
        return;
      }
      await this.runLive(source, signal);
    } finally {
      this.metrics.malformed += source.malformed - malformedBefore;
    }
  }

  private async runLive(source: FrameSource, signal: AbortSignal): Promise<void> {
    let waiting: Frame | null = null;
    let ended = false;
    let failure: unknown = null;
    const waker: { wake: (() => void) | null } = { wake: null };
    const reader = (async () => {
      try {
        for await (const frame of source.frames(signal)) {
          if (waiting) this.metrics.dropped += 1;
          waiting = frame;
          waker.wake?.();
        }
      } catch (error) {
        failure = error;
      } finally {
        ended = true;
        waker.wake?.();
      }
    })();
    while (!signal.aborted) {
      const frame: Frame | null = waiting;
      if (frame) {
        waiting = null;
        await this.handleFrame(frame);
        continue;
      }
      if (ended) break;
      await new Promise<void>((resolve) => {
        waker.wake = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      waker.wake = null;
    }
    await reader;
    if (failure) throw failure;
  }

  private async runShadow(rgb: Uint8Array, frame: Frame): Promise<Prediction | null> {
    const shadow = this.shadow;
    if (!shadow) return null;
    try {
      return await shadow.predictRgb(rgb);
    } catch (error) {
      this.options.log.warn({ frame: frame.id, version: shadow.manifest.version, error: (error as Error).message }, 'shadow model failed on a frame');
      return null;
    }
  }

  private async capture(frame: Frame, prediction: Prediction, shadow: Prediction | null): Promise<void> {
    if (!this.triggers || !this.options.uplink) return;
    const decision = this.triggers.evaluate(prediction, shadow, frame.stamp);
    if (decision.capped) this.metrics.capped += 1;
    if (!decision.capture) return;
    this.metrics.captured += 1;
    const raw = frame.image.kind === 'raw' ? { width: frame.image.pixels.width, height: frame.image.pixels.height, channels: frame.image.pixels.channels } : undefined;
    try {
      await this.options.uplink.send({
        robot: this.options.robot,
        time: new Date(frame.stamp).toISOString(),
        frameId: frame.id,
        source: frame.source,
        image: frame.bytes,
        ...(raw ? { raw } : {}),
        predictions: prediction,
        shadow,
        reasons: decision.reasons,
        campaign: this.triggers.campaign.name,
      });
    } catch (error) {
      this.options.log.error({ frame: frame.id, error: (error as Error).message }, 'uplink failed to take a captured sample');
    }
  }

  private emit(event: InferenceEvent): void {
    for (const listener of this.observers) listener(event);
  }
}
