import * as tf from '@tensorflow/tfjs';
import mqtt, { type MqttClient } from 'mqtt';
import type { BundleManifest } from '@fieldloop/contracts';
import type { TrustedKey } from '../../src/bundle/signing-keys.ts';
import { EdgeRuntime } from '../../src/inference/edge-runtime.ts';
import type { FrameImage } from '../../src/inference/preprocess.ts';
import { bootFromStore } from '../../src/ota/boot.ts';
import { ModelStore } from '../../src/ota/model-store.ts';
import { OtaAgent } from '../../src/ota/ota-agent.ts';
import { TfjsEngine } from '../../src/engines/tfjs-engine.ts';
import { DelayedEngineForLatencyTest, FailingEngineForCrashTest } from './delayed-engine.ts';
import { solidPng } from './images.ts';
import { memoryLog } from './test-log.ts';
import type { TestBroker } from './brokers.ts';

export const LATENCY_BUDGET_MS = 60;
export const SLOW_NAME = 'slow-student';
/** Bundles by this name pass the health check, then slow down while serving. */
export const LATE_SLOW_NAME = 'late-slow-student';
/** Bundles by this name pass the health check, then throw while serving. */
export const CRASH_NAME = 'crashing-student';
/** Engine runs at load and in the health check: 1 warm-up + 5 timed (selectEngine) + 3 probes. */
const RUNS_BEFORE_SERVING = 9;

/** Frames alternate black and white, so a model that overflows on bright input fails in probation. */
export async function testFrames(): Promise<FrameImage[]> {
  return [
    { kind: 'encoded', bytes: await solidPng(8, 8, [0, 0, 0]) },
    { kind: 'encoded', bytes: await solidPng(8, 8, [255, 255, 255]) },
  ];
}

/** Builds a model whose sign head, relu(1e38 * x), is 0 on dark input and +Infinity (NaN probabilities) on bright input. */
export function buildBrightNaNModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
  const sign = tf.layers.dense({ units: 3, name: 'sign', activation: 'relu', kernelInitializer: tf.initializers.constant({ value: 1e38 }) }).apply(flat) as tf.SymbolicTensor;
  const steering = tf.layers.dense({ units: 1, name: 'steering' }).apply(flat) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [sign, steering] });
}

/** A robot: store, runtime, update agent, and a pump that feeds frames and records the version of each prediction. */
export class TestRobot {
  readonly log = memoryLog();
  readonly answers: { version: number; at: number }[] = [];
  unanswered = 0;
  runtime!: EdgeRuntime;
  agent!: OtaAgent;
  client!: MqttClient;
  private pumping = false;
  private pump: Promise<void> | null = null;

  constructor(
    readonly id: string,
    readonly storeDir: string,
    private readonly trustedKeys: TrustedKey[],
    private readonly probationFrames = 10,
  ) {}

  async start(broker: TestBroker, fleet: string): Promise<void> {
    const store = new ModelStore(this.storeDir);
    const active = await bootFromStore(store, { trustedKeys: this.trustedKeys, log: this.log });
    this.runtime = new EdgeRuntime({ robot: this.id, log: this.log, latencyBudgetMs: LATENCY_BUDGET_MS });
    this.runtime.setActive(active);
    this.client = await mqtt.connectAsync(broker.url, { protocolVersion: broker.protocolVersion, clientId: `${this.id}-${Date.now()}` });
    const frames = await testFrames();
    this.agent = new OtaAgent({
      client: this.client,
      fleet,
      robot: this.id,
      store,
      runtime: this.runtime,
      trustedKeys: this.trustedKeys,
      log: this.log,
      probes: [frames[0]!, frames[0]!, frames[0]!],
      latencyBudgetMs: LATENCY_BUDGET_MS,
      probationFrames: this.probationFrames,
      enginesFor: (manifest: BundleManifest) => {
        if (manifest.name === SLOW_NAME) return [new DelayedEngineForLatencyTest(new TfjsEngine('wasm'), 150)];
        if (manifest.name === LATE_SLOW_NAME) return [new DelayedEngineForLatencyTest(new TfjsEngine('wasm'), 150, RUNS_BEFORE_SERVING)];
        if (manifest.name === CRASH_NAME) return [new FailingEngineForCrashTest(new TfjsEngine('wasm'), RUNS_BEFORE_SERVING + 2)];
        return undefined;
      },
    });
    this.agent.start();
    this.pumping = true;
    this.pump = (async () => {
      let index = 0;
      while (this.pumping) {
        const image = frames[index % 2]!;
        index += 1;
        const prediction = await this.runtime.handleFrame({ id: `f${index}`, source: 'pump', stamp: Date.now(), image, bytes: image.kind === 'encoded' ? image.bytes : new Uint8Array() });
        if (prediction) this.answers.push({ version: prediction.model.version, at: Date.now() });
        else this.unanswered += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
  }

  /** Returns the model versions that predicted frames since `since` (ms epoch). */
  versionsSince(since: number): Set<number> {
    return new Set(this.answers.filter((answer) => answer.at >= since).map((answer) => answer.version));
  }

  async stop(): Promise<void> {
    this.pumping = false;
    await this.pump;
    await this.agent.stop();
    await this.client.endAsync();
    this.runtime.activeModel?.dispose();
  }
}
