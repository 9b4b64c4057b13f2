import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertFleetId, type CliContext, type CliResult } from '@fieldloop/contracts';
import mqtt, { type MqttClient } from 'mqtt';
import { parsePublicKey, trustedKeysFrom } from '../bundle/signing-keys.ts';
import { verifyBundle } from '../bundle/verify-bundle.ts';
import { defaultEngines } from '../engines/default-engines.ts';
import { setNativeLogger } from '../engines/wasm-globals.ts';
import { EdgeRuntime } from '../inference/edge-runtime.ts';
import type { FrameImage } from '../inference/preprocess.ts';
import { Predictor } from '../inference/predictor.ts';
import { bootFromStore, installBundle } from '../ota/boot.ts';
import { ModelStore } from '../ota/model-store.ts';
import { OtaAgent } from '../ota/ota-agent.ts';
import { JsonLinesSink, MqttPredictionSink, type PredictionSink } from '../outputs/prediction-sink.ts';
import type { FrameSource } from '../sources/frame-source.ts';
import { ImageFolderSource } from '../sources/image-folder-source.ts';
import { MqttFrameSource } from '../sources/mqtt-frame-source.ts';
import { RecordingSource } from '../sources/recording-source.ts';
import { Ros2TopicSource } from '../sources/ros2-topic-source.ts';
import { parseCampaign } from '../triggers/campaign.ts';
import { followCampaign } from '../triggers/campaign-subscriber.ts';
import { DirectMqttUplink } from '../triggers/uplink.ts';

function text(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function positiveNumber(options: Record<string, unknown>, name: string, flag: string): number | undefined {
  const raw = text(options, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} must be a non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

/** Parses `--source`: `folder:DIR`, `recording:PATH`, `mqtt:TOPIC`, `ros2:TOPIC`, or a bare path (folder or recording). */
async function openSource(spec: string, options: Record<string, unknown>, client: MqttClient | null, context: CliContext): Promise<FrameSource> {
  const colon = spec.indexOf(':');
  const kind = colon > 0 ? spec.slice(0, colon) : '';
  const target = colon > 0 ? spec.slice(colon + 1) : spec;
  const speed = positiveNumber(options, 'speed', '--speed') ?? 1;
  if (kind === 'mqtt') {
    if (!client) throw new Error(`--source ${spec} needs --broker`);
    return new MqttFrameSource(client, target, context.log);
  }
  if (kind === 'ros2') return new Ros2TopicSource(target, text(options, 'rosType'), context.log);
  if (kind === 'folder') return new ImageFolderSource(target, { loop: options.loop === true });
  if (kind === 'recording') return new RecordingSource(target, { topic: text(options, 'topic'), speed, log: context.log });
  if (kind !== '') throw new Error(`--source kind ${kind} is unknown; use folder:DIR, recording:PATH, mqtt:TOPIC or ros2:TOPIC`);
  const { stat } = await import('node:fs/promises');
  const info = await stat(target).catch(() => null);
  if (!info) throw new Error(`--source ${target} not found`);
  const isBagDir = info.isDirectory() && (await readdir(target)).some((name) => name === 'metadata.yaml' || name.endsWith('.db3') || name.endsWith('.mcap'));
  return info.isDirectory() && !isBagDir
    ? new ImageFolderSource(target, { loop: options.loop === true })
    : new RecordingSource(target, { topic: text(options, 'topic'), speed, log: context.log });
}

async function loadProbes(dir: string | undefined): Promise<FrameImage[]> {
  if (!dir) return [];
  const names = (await readdir(dir)).filter((name) => /\.(png|jpe?g|bmp|webp)$/i.test(name)).sort();
  return Promise.all(names.map(async (name) => ({ kind: 'encoded' as const, bytes: new Uint8Array(await readFile(join(dir, name))) })));
}

/** `edge run`: serves a bundle (or the fleet's model with updates) on a frame source until it ends. */
export async function runEdge(options: Record<string, unknown>, context: CliContext, stdout: NodeJS.WritableStream & import('node:stream').Writable = process.stdout): Promise<CliResult> {
  const log = context.log;
  setNativeLogger(log);
  const keyFiles = Array.isArray(options.trustedKey) ? (options.trustedKey as string[]) : [];
  if (keyFiles.length === 0) throw new Error('edge run needs at least one --trusted-key <file> (a public key from "fieldloop edge keygen")');
  const trustedKeys = trustedKeysFrom(await Promise.all(keyFiles.map(async (file) => parsePublicKey(await readFile(file, 'utf8')))));
  const bundle = text(options, 'bundle');
  const fleet = text(options, 'fleet');
  const robot = text(options, 'robot') ?? 'robot';
  const brokerUrl = text(options, 'broker');
  const storeDir = text(options, 'store');
  const sourceSpec = text(options, 'source');
  if (!bundle && !fleet) throw new Error('edge run needs --bundle <dir> or --fleet <id> with --store <dir>');
  if (fleet && !storeDir) throw new Error('edge run --fleet needs --store <dir>, where bundles and the current pointer are kept');
  if (fleet) assertFleetId('fleet', fleet);
  assertFleetId('robot', robot);
  if (!sourceSpec) throw new Error('edge run needs --source folder:DIR | recording:PATH | mqtt:TOPIC | ros2:TOPIC');
  const latencyBudgetMs = positiveNumber(options, 'latencyBudget', '--latency-budget') ?? 100;
  const engines = await defaultEngines();
  const prefer = text(options, 'engine')?.split(',');

  let active: Predictor | null = null;
  const store = storeDir ? new ModelStore(storeDir) : null;
  if (bundle && store) {
    // The bundle seeds the store; a newer model that an update already installed keeps serving.
    const { manifest } = await verifyBundle(bundle, trustedKeys);
    await store.init();
    const current = await store.readPointer('current');
    if (!current || manifest.version > current.version) await installBundle(store, bundle, manifest.name, manifest.version);
    else log.info({ bundle: manifest.version, current: current.version }, 'the store already serves this or a newer version; --bundle not installed');
  }
  if (store) active = await bootFromStore(store, { trustedKeys, log, engines });
  else if (bundle) active = await Predictor.load(bundle, { trustedKeys, engines, prefer, log });
  if (!active && !fleet) throw new Error('no model to serve: the bundle failed to load');
  if (!active) log.warn({ store: storeDir }, 'the store contains no model yet; frames are skipped until an update arrives');

  let client: MqttClient | null = null;
  if (brokerUrl) {
    const protocolVersion = text(options, 'mqttVersion') === '4' ? 4 : 5;
    client = mqtt.connect(brokerUrl, { protocolVersion, clientId: `fieldloop-edge-${fleet ?? 'local'}-${robot}`, reconnectPeriod: 2000 });
    client.on('error', (error) => log.warn({ broker: brokerUrl, error: error.message }, 'MQTT connection error; serving continues and the client retries'));
    client.on('connect', () => log.info({ broker: brokerUrl }, 'connected to the broker'));
  }
  const outputKind = text(options, 'output') ?? 'stdout';
  let output: PredictionSink;
  if (outputKind === 'mqtt') {
    if (!client || !fleet) throw new Error('--output mqtt needs --broker and --fleet');
    output = new MqttPredictionSink(client, fleet, robot);
  } else if (outputKind === 'stdout') {
    output = new JsonLinesSink(stdout);
  } else {
    throw new Error(`--output must be stdout or mqtt, got ${outputKind}`);
  }
  const campaignFile = text(options, 'campaign');
  const campaign = campaignFile ? parseCampaign(await readFile(campaignFile, 'utf8'), campaignFile) : undefined;
  const uplink = client && fleet ? new DirectMqttUplink(client, fleet, robot) : undefined;
  const runtime = new EdgeRuntime({ robot, log, output, uplink, campaign, latencyBudgetMs });
  runtime.setActive(active);
  const shadowDir = text(options, 'shadow');
  if (shadowDir) runtime.setShadow(await Predictor.load(shadowDir, { trustedKeys, engines, log }));

  const cleanups: (() => Promise<void>)[] = [];
  if (client && fleet && store) {
    const probesDir = text(options, 'probes') ?? store.probesDir;
    const probes = await loadProbes(probesDir);
    if (probes.length === 0) log.warn({ probes: probesDir }, 'no probe images found, so the health check rejects every update; add PNG or JPEG frames there');
    const agent = new OtaAgent({ client, fleet, robot, store, runtime, trustedKeys, log, probes, latencyBudgetMs });
    agent.start();
    cleanups.push(() => agent.stop());
    const unfollow = await followCampaign(client, fleet, runtime, log);
    cleanups.push(unfollow);
  }

  const controller = new AbortController();
  const duration = positiveNumber(options, 'duration', '--duration');
  const timer = duration ? setTimeout(() => controller.abort(), duration * 1000) : null;
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const source = await openSource(sourceSpec, options, client, context);
    log.info({ source: source.name, live: source.live, engine: active?.engine ?? null, version: active?.manifest.version ?? null }, 'serving');
    await runtime.run(source, controller.signal);
  } finally {
    if (timer) clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const cleanup of cleanups) await cleanup();
    if (client) await client.endAsync(!client.connected);
    runtime.activeModel?.dispose();
  }
  const metrics = runtime.metrics.snapshot();
  return {
    exitCode: 0,
    summary: { robot, fleet: fleet ?? null, version: runtime.activeModel?.manifest.version ?? null, engine: runtime.activeModel?.engine ?? null, metrics },
    text:
      `served ${metrics.inferred} of ${metrics.frames} frames (dropped ${metrics.dropped}, malformed ${metrics.malformed}, errors ${metrics.errors}); ` +
      `latency p50 ${metrics.latencyP50Ms.toFixed(2)} ms, p99 ${metrics.latencyP99Ms.toFixed(2)} ms; ${metrics.fps.toFixed(1)} fps; captured ${metrics.captured}`,
  };
}
