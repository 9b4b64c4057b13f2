import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { fleetTopics, type BundleManifest, type Logger } from '@fieldloop/contracts';
import type { MqttClient } from 'mqtt';
import { unpackBundle } from '../bundle/bundle-archive.ts';
import type { TrustedKey } from '../bundle/signing-keys.ts';
import { verifyBundle } from '../bundle/verify-bundle.ts';
import type { InferenceEngine } from '../engines/engine.ts';
import { isFinitePrediction } from '../inference/decode-outputs.ts';
import type { EdgeRuntime, InferenceEvent } from '../inference/edge-runtime.ts';
import type { FrameImage } from '../inference/preprocess.ts';
import { Predictor } from '../inference/predictor.ts';
import { percentile } from '../inference/runtime-metrics.ts';
import { subscribeWhenConnected } from '../transport/subscribe-when-connected.ts';
import { isTargeted, type ModelAnnouncement, type UpdateReport } from './announcement.ts';
import type { ModelStore } from './model-store.ts';

export interface OtaAgentOptions {
  client: MqttClient;
  fleet: string;
  robot: string;
  store: ModelStore;
  runtime: EdgeRuntime;
  trustedKeys: readonly TrustedKey[];
  log: Logger;
  /** Images the health check runs; at least one. */
  probes: FrameImage[];
  /** A model whose median latency exceeds this (ms) fails the health check or probation. */
  latencyBudgetMs: number;
  /** Inferences a new model must serve before it is confirmed. Default 20. */
  probationFrames?: number;
  /** Engines per bundle; default: every engine of the process. */
  enginesFor?: (manifest: BundleManifest) => readonly InferenceEngine[] | undefined;
}

/**
 * Takes over-the-air updates: subscribes to the fleet's retained model announcement, fetches
 * and verifies the bundle, health-checks it, switches the runtime to it, watches it through a
 * probation window and rolls back on failure. Every outcome is published on the robot's updates
 * topic. Updates run one at a time; the old model serves until the switch and stays loaded
 * through probation.
 */
export class OtaAgent {
  private readonly options: OtaAgentOptions;
  private queue: Promise<void> = Promise.resolve();
  private probation: { predictor: Predictor; previous: Predictor | null; stop: () => void; rolloutId: string } | null = null;
  private stopSubscribing: (() => void) | null = null;
  private readonly onMessage = (topic: string, payload: Buffer): void => {
    if (topic !== fleetTopics.model(this.options.fleet) || payload.length === 0) return;
    this.queue = this.queue.then(() => this.handle(payload)).catch((error: unknown) => {
      this.options.log.error({ error: (error as Error).message }, 'update agent failed on an announcement');
    });
  };

  constructor(options: OtaAgentOptions) {
    this.options = options;
  }

  /**
   * Subscribes to the model channel, now or once the broker is reachable; it never waits for the
   * network. When the runtime serves a model whose probation a clean stop paused, its probation
   * resumes.
   */
  start(): void {
    this.queue = this.queue.then(() => this.resumeProbation()).catch((error: unknown) => {
      this.options.log.error({ error: (error as Error).message }, 'resuming the probation of the served model failed');
    });
    this.options.client.on('message', this.onMessage);
    this.stopSubscribing = subscribeWhenConnected(this.options.client, fleetTopics.model(this.options.fleet), 1, this.options.log);
  }

  /**
   * Stops taking updates. A probation still running is paused in the store, so the next start
   * serves the model and resumes it, instead of rejecting the model as one that stopped the process.
   */
  async stop(): Promise<void> {
    this.options.client.off('message', this.onMessage);
    this.stopSubscribing?.();
    await this.queue;
    const probation = this.probation;
    if (probation === null) return;
    probation.stop();
    this.probation = null;
    const { store, log } = this.options;
    const current = await store.readPointer('current');
    const version = probation.predictor.manifest.version;
    if (current?.version !== version || current.state !== 'probation') return;
    await store.writePointer('current', { ...current, state: 'paused' });
    log.info({ version }, 'stopped during probation; the next start resumes it');
  }

  /** Watches the served model through probation again when its store pointer is `paused`. */
  private async resumeProbation(): Promise<void> {
    const { store, runtime, log } = this.options;
    const current = await store.readPointer('current');
    const served = runtime.activeModel;
    if (current === null || served === null || served.manifest.version !== current.version) return;
    if (current.state !== 'paused') return;
    const previousPointer = await store.readPointer('previous');
    let previous: Predictor | null = null;
    if (previousPointer !== null) {
      try {
        previous = await Predictor.load(store.bundlePath(previousPointer), { trustedKeys: this.options.trustedKeys, log });
      } catch (error) {
        log.warn({ version: previousPointer.version, error: (error as Error).message }, 'previous model failed to load; a failed probation leaves no model to serve');
      }
    }
    // Back to `probation` first, so a crash during the resumed probation rejects the model at the next boot.
    await store.writePointer('current', { ...current, state: 'probation' });
    this.watchProbation(served, previous, current.rolloutId ?? `v${current.version}-resumed`);
    log.info({ version: current.version, previous: previous?.manifest.version ?? null }, 'resumed the probation of the served model');
  }

  /** Resolves when every announcement received so far has been handled. */
  async idle(): Promise<void> {
    await this.queue;
  }

  private async handle(payload: Buffer): Promise<void> {
    const { log, robot, store } = this.options;
    let announcement: ModelAnnouncement;
    try {
      announcement = JSON.parse(payload.toString('utf8')) as ModelAnnouncement;
      if (!announcement.manifest || typeof announcement.manifest.version !== 'number' || !announcement.rollout) throw new Error('manifest or rollout missing');
    } catch (error) {
      log.warn({ error: (error as Error).message }, 'ignoring an invalid model announcement');
      return;
    }
    const { manifest, rollout } = announcement;
    if (announcement.stopped) {
      log.info({ version: manifest.version, rollout: rollout.id }, 'rollout stopped by the publisher; not updating');
      return;
    }
    if (!isTargeted(rollout, robot)) return;
    const current = await store.readPointer('current');
    if (current && manifest.version <= current.version) return;
    const rejected = await store.rejectedVersions();
    if (rejected[`${manifest.name}@${manifest.version}`]) return;

    log.info({ name: manifest.name, version: manifest.version, rollout: rollout.id }, 'update announced; fetching bundle');
    let staging: string | null = null;
    let predictor: Predictor | null = null;
    try {
      staging = await store.newStaging(`${manifest.name}-v${manifest.version}`);
      await unpackBundle(await this.fetchArchive(announcement), staging);
      const verified = await verifyBundle(staging, this.options.trustedKeys);
      if (verified.manifest.version !== manifest.version || verified.manifest.signature !== manifest.signature) {
        throw new Error(`bundle contains ${verified.manifest.name} v${verified.manifest.version}, not the announced v${manifest.version}`);
      }
      predictor = await Predictor.load(staging, {
        trustedKeys: this.options.trustedKeys,
        engines: this.options.enginesFor?.(manifest),
        log,
      });
      await this.healthCheck(predictor);
    } catch (error) {
      predictor?.dispose();
      if (staging) await rm(staging, { recursive: true, force: true });
      const reason = (error as Error).message;
      await store.markRejected(manifest.name, manifest.version, reason);
      log.warn({ version: manifest.version, reason }, 'update rejected; the current model keeps serving');
      await this.report({ name: manifest.name, version: manifest.version, rolloutId: rollout.id, outcome: 'rejected', reason, serving: current?.version ?? null });
      return;
    }
    await this.switchTo(predictor, staging, manifest, rollout.id);
  }

  private async fetchArchive(announcement: ModelAnnouncement): Promise<Uint8Array> {
    let bytes: Uint8Array;
    if (announcement.archive) {
      bytes = Buffer.from(announcement.archive, 'base64');
    } else if (announcement.url && /^https?:\/\//.test(announcement.url)) {
      const response = await fetch(announcement.url, { signal: AbortSignal.timeout(30_000) });
      if (!response.ok) throw new Error(`bundle download from ${announcement.url} failed with HTTP ${response.status}`);
      bytes = new Uint8Array(await response.arrayBuffer());
    } else if (announcement.url) {
      bytes = new Uint8Array(await readFile(announcement.url));
    } else {
      throw new Error('announcement carries neither an archive nor a url');
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== announcement.archiveSha256) {
      throw new Error(`bundle archive sha256 is ${sha256} but the announcement states ${announcement.archiveSha256}; the download is corrupt`);
    }
    return bytes;
  }

  /** Runs the probes: every output finite, median latency within budget. */
  private async healthCheck(predictor: Predictor): Promise<void> {
    if (this.options.probes.length === 0) throw new Error('no probe images are configured, so the health check cannot run');
    const latencies: number[] = [];
    for (const [index, probe] of this.options.probes.entries()) {
      const prediction = await predictor.predictImage(probe, `probe ${index}`);
      if (!isFinitePrediction(prediction.heads)) throw new Error(`health check: probe ${index} gave non-finite outputs`);
      latencies.push(prediction.latencyMs);
    }
    const median = percentile(latencies, 0.5);
    if (median > this.options.latencyBudgetMs) {
      throw new Error(`health check: median probe latency ${median.toFixed(1)} ms exceeds the budget of ${this.options.latencyBudgetMs} ms`);
    }
  }

  private async switchTo(predictor: Predictor, staging: string, manifest: BundleManifest, rolloutId: string): Promise<void> {
    const { store, runtime, log } = this.options;
    const current = await store.readPointer('current');
    const folder = await store.promote(staging, manifest.name, manifest.version);
    if (current) await store.writePointer('previous', { ...current, state: 'good' });
    await store.writePointer('current', { bundle: folder, version: manifest.version, state: 'probation', rolloutId });
    // Probation watches from the first frame the new model serves, so no failure goes unseen
    // while the report below is being sent.
    const previous = runtime.activeModel;
    this.watchProbation(predictor, previous, rolloutId);
    runtime.setActive(predictor);
    log.info({ version: manifest.version, previous: previous?.manifest.version ?? null, engine: predictor.engine }, 'switched to the new model; probation started');
    await this.report({ name: manifest.name, version: manifest.version, rolloutId, outcome: 'probation', serving: manifest.version });
  }

  private watchProbation(predictor: Predictor, previous: Predictor | null, rolloutId: string): void {
    const needed = this.options.probationFrames ?? 20;
    const version = predictor.manifest.version;
    const recent: number[] = [];
    let served = 0;
    let settled = false;
    const settle = (failure: string | null): void => {
      if (settled) return;
      settled = true;
      stop();
      this.probation = null;
      // The old model takes the next frame at once; the pointer files follow in the queue.
      if (failure !== null) this.options.runtime.setActive(previous);
      this.queue = this.queue.then(() => (failure === null ? this.confirm(predictor, previous, rolloutId) : this.rollback(predictor, previous, rolloutId, failure)));
    };
    const stop = this.options.runtime.observe((event: InferenceEvent) => {
      if (event.version !== version) return;
      if (event.kind === 'error') return settle(`inference failed during probation: ${event.error.message}`);
      if (!event.finite) return settle('non-finite outputs during probation');
      recent.push(event.prediction.latencyMs);
      if (recent.length > 5) recent.shift();
      const median = percentile(recent, 0.5);
      if (recent.length === 5 && median > this.options.latencyBudgetMs) {
        return settle(`median latency ${median.toFixed(1)} ms over the last 5 frames exceeds the budget of ${this.options.latencyBudgetMs} ms`);
      }
      served += 1;
      if (served >= needed) settle(null);
    });
    this.probation = { predictor, previous, stop, rolloutId };
  }

  private async confirm(predictor: Predictor, previous: Predictor | null, rolloutId: string): Promise<void> {
    const { store, log } = this.options;
    const current = await store.readPointer('current');
    if (current) await store.writePointer('current', { ...current, state: 'good' });
    previous?.dispose();
    log.info({ version: predictor.manifest.version }, 'probation passed; update applied');
    await this.report({ name: predictor.manifest.name, version: predictor.manifest.version, rolloutId, outcome: 'applied', serving: predictor.manifest.version });
  }

  private async rollback(predictor: Predictor, previous: Predictor | null, rolloutId: string, reason: string): Promise<void> {
    const { store, runtime, log } = this.options;
    const old = await store.readPointer('previous');
    runtime.setActive(previous);
    await store.writePointer('current', old);
    await store.writePointer('previous', null);
    await store.markRejected(predictor.manifest.name, predictor.manifest.version, reason);
    predictor.dispose();
    log.warn({ version: predictor.manifest.version, serving: previous?.manifest.version ?? null, reason }, 'rolled back the update');
    await this.report({
      name: predictor.manifest.name,
      version: predictor.manifest.version,
      rolloutId,
      outcome: 'rolled-back',
      reason,
      serving: previous?.manifest.version ?? null,
    });
  }

  private async report(fields: Omit<UpdateReport, 'robot' | 'time'>): Promise<void> {
    const report: UpdateReport = { robot: this.options.robot, time: new Date().toISOString(), ...fields };
    try {
      await this.options.client.publishAsync(fleetTopics.updates(this.options.fleet, this.options.robot), JSON.stringify(report), { qos: 1 });
    } catch (error) {
      this.options.log.warn({ outcome: report.outcome, version: report.version, error: (error as Error).message }, 'update report not sent');
    }
  }
}
