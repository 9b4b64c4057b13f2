import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { computeSampleId, type Logger, type SampleRecord } from '@fieldloop/contracts';
import {
  bootFromStore,
  EdgeRuntime,
  ModelStore,
  OtaAgent,
  TriggerEngine,
  type Campaign,
  type FrameImage,
  type TrustedKey,
} from '@fieldloop/edge-runtime';
import {
  createMessageDecoder,
  ingestRecording,
  MqttUplink,
  openRecording,
  OutboundQueue,
  type Mapping,
  type SampleBlobs,
  type SampleSink,
} from '@fieldloop/ros-bridge';

export interface SimulatedRobotOptions {
  robot: string;
  fleet: string;
  brokerUrl: string;
  /** Directory of the robot's bundle store and outbound queue; kept between rounds. */
  workDir: string;
  trustedKeys: readonly TrustedKey[];
  probes: FrameImage[];
  latencyBudgetMs: number;
  campaign: Campaign;
  /** Serve the model stored in the robot's bundle store by an earlier run, before any update arrives. */
  bootFromStore?: boolean;
  log: Logger;
}

/** Counts of one robot's replay: frames seen, captured and held back by caps. */
export interface ReplayStats {
  frames: number;
  captured: number;
  capped: number;
  modelVersion: number | null;
}

/**
 * A robot of the simulated fleet, in this process: the real edge runtime with its over-the-air
 * agent (bundle store, verification, health check, probation), the real trigger engine, and the
 * real durable MQTT uplink. Its camera is a replayed recording: the ingest mapping turns the
 * recording into frames with the driver's labels, the active model predicts each frame, and the
 * frames the campaign's triggers pick are sent home with those labels.
 */
export class SimulatedRobot {
  private constructor(
    private readonly options: SimulatedRobotOptions,
    private readonly client: MqttClient,
    private readonly runtime: EdgeRuntime,
    private readonly agent: OtaAgent,
    private readonly uplink: MqttUplink,
    private readonly queue: OutboundQueue,
  ) {}

  static async start(options: SimulatedRobotOptions): Promise<SimulatedRobot> {
    const client = await connectAsync(options.brokerUrl, { clientId: `fieldloop-sim-${options.robot}`, protocolVersion: 4, reconnectPeriod: 500 });
    const store = new ModelStore(join(options.workDir, 'bundles'));
    await store.init();
    const runtime = new EdgeRuntime({ robot: options.robot, log: options.log, latencyBudgetMs: options.latencyBudgetMs });
    if (options.bootFromStore) runtime.setActive(await bootFromStore(store, { trustedKeys: options.trustedKeys, log: options.log }));
    const agent = new OtaAgent({
      client,
      fleet: options.fleet,
      robot: options.robot,
      store,
      runtime,
      trustedKeys: options.trustedKeys,
      log: options.log,
      probes: options.probes,
      latencyBudgetMs: options.latencyBudgetMs,
      probationFrames: 5,
    });
    agent.start();
    const queue = OutboundQueue.open({ path: join(options.workDir, 'outbound.sqlite'), synchronous: 'normal' });
    const uplink = new MqttUplink({
      fleet: options.fleet,
      robot: options.robot,
      broker: { url: options.brokerUrl, protocolVersion: 4, reconnectPeriodMs: 500 },
      queue,
      log: options.log,
    });
    return new SimulatedRobot(options, client, runtime, agent, uplink, queue);
  }

  /** Waits until the robot serves `version`, or throws with what it serves after `timeoutMs`. */
  async waitForModel(version: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.agent.idle();
      if (this.runtime.activeModel?.manifest.version === version) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `robot ${this.options.robot} still serves version ${this.runtime.activeModel?.manifest.version ?? 'none'} ` +
        `${timeoutMs} ms after version ${version} was published; check its update reports`,
    );
  }

  /** MQTT messages of this robot's uplink that the broker acknowledged, since the robot started. */
  get acknowledgedMessages(): number {
    return this.uplink.stats().acknowledged;
  }

  get modelVersion(): number | null {
    return this.runtime.activeModel?.manifest.version ?? null;
  }

  /** Replays recordings as fast as possible and sends the frames the triggers pick. */
  async replay(recordings: ReadonlyArray<{ path: string; mapping: Mapping }>): Promise<ReplayStats> {
    const triggers = new TriggerEngine(this.options.campaign);
    const stats: ReplayStats = { frames: 0, captured: 0, capped: 0, modelVersion: this.modelVersion };
    const robot = this.options.robot;
    const runtime = this.runtime;
    const uplink = this.uplink;
    const sink: SampleSink = {
      async add(record: SampleRecord, blobs: SampleBlobs): Promise<void> {
        if (!runtime.activeModel) throw new Error(`robot ${robot} has no model to run`);
        stats.frames += 1;
        // Through the runtime, as on a robot, so the update agent's probation counts every frame.
        const prediction = await runtime.handleFrame({
          id: `${record.source.topic}@${record.source.logTimeNs}`,
          source: record.source.topic,
          stamp: record.source.logTimeNs === null ? Date.now() : Number(BigInt(record.source.logTimeNs) / 1_000_000n),
          image: { kind: 'encoded', bytes: blobs.image },
          bytes: blobs.image,
        });
        if (prediction === null) return;
        const decision = triggers.evaluate(prediction, null, stats.frames * 100, record.labels);
        if (decision.capped) stats.capped += 1;
        if (!decision.capture) return;
        const tags = [...new Set([...record.tags, 'field', `robot:${robot}`])].sort();
        await uplink.add({ ...record, tags, id: computeSampleId(record.inputSha256, record.labels, tags) }, blobs);
        stats.captured += 1;
      },
    };
    const decoder = createMessageDecoder();
    for (const recording of recordings) {
      const reader = await openRecording(recording.path);
      try {
        await ingestRecording(reader, { mapping: recording.mapping, decoder, sink });
      } finally {
        await reader.close();
      }
    }
    await uplink.drain(120_000);
    return stats;
  }

  async stop(): Promise<void> {
    await this.agent.stop();
    await this.uplink.close();
    this.queue.close();
    await this.client.endAsync();
    this.runtime.activeModel?.dispose();
  }
}
