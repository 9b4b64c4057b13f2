import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger, SnapshotManifest } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { generateSigningKeyPair, type Campaign, type FrameImage, type TrustedKey } from '@fieldloop/edge-runtime';
import { FleetCollector, loadMapping, runIngest } from '@fieldloop/ros-bridge';
import { generateSimData } from '../sim/generate-sim-data.ts';
import type { DataSource } from './data-config.ts';
import { SimulatedRobot } from './simulated-robot.ts';

/** The fleet name of the simulated robots on the MQTT topics. */
export const SIM_FLEET = 'sim';

/** Generates the built-in procedural drives and signs into `dir` unless they are there already. */
export async function ensureBuiltInData(dir: string, log: Logger): Promise<void> {
  if (existsSync(join(dir, 'signs'))) return;
  log.info({ dir }, 'generating the built-in procedural data');
  await generateSimData({ out: dir, drives: 4, frames: 150, signsPerClass: 30, seed: 1 });
}

/** Ingests sources into the store, one snapshot per mapping file, and returns the last snapshot. */
export async function ingestSources(sources: readonly DataSource[], storeDir: string, note: string, log: Logger): Promise<SnapshotManifest> {
  let latest: SnapshotManifest | null = null;
  const byMapping = new Map<string, string[]>();
  for (const source of sources) byMapping.set(source.mapping, [...(byMapping.get(source.mapping) ?? []), source.path]);
  for (const [mappingFile, paths] of byMapping) {
    const result = await runIngest({ paths, storeDir, mapping: await loadMapping(mappingFile), allowPartial: false, msgPaths: [], note });
    if (result.problems.length > 0 || !result.snapshot) {
      throw new Error(`ingest of ${paths.join(', ')} failed: ${result.problems.join(' ')}`);
    }
    log.info({ version: result.snapshot.version, samples: result.snapshot.stats.samples, added: result.snapshot.added }, `ingested ${paths.length} source(s)`);
    latest = result.snapshot;
  }
  if (!latest) throw new Error('the data config names no base data');
  return latest;
}

/** Reads the release signing key pair from `file`, or creates it (mode 0600) when missing. */
export async function loadOrCreateKeys(file: string): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as { privateKeyPem: string; publicKeyPem: string };
  const pair = generateSigningKeyPair();
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(pair, null, 2), { mode: 0o600 });
  return pair;
}

/** Reads the first `count` val images of a snapshot, which robots use to health-check a new model. */
export async function probeFrames(storeDir: string, version: number, count: number): Promise<FrameImage[]> {
  const store = await DatasetStore.open(storeDir, { readOnly: true });
  try {
    const probes: FrameImage[] = [];
    for (const record of store.samples(version, { split: 'val' })) {
      if (probes.length >= count) break;
      probes.push({ kind: 'encoded', bytes: new Uint8Array(await store.readImage(record)) });
    }
    return probes;
  } finally {
    await store.close();
  }
}

/**
 * Waits until the collector has handled `messages` MQTT messages. A robot's drained uplink means
 * the broker acknowledged its messages, which MQTT does before the subscriber has them, so a
 * field batch committed right after a drain could miss the last ones.
 */
export async function waitForCollector(collector: FleetCollector, messages: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (collector.stats().messages < messages) {
    if (Date.now() > deadline) {
      throw new Error(`the collector handled ${collector.stats().messages} of the ${messages} messages the robots sent within ${timeoutMs} ms; check the broker and the collector's log`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts one robot of the simulated fleet with the data config's campaign and the loop's latency budget. */
export function startSimRobot(options: {
  robot: string;
  brokerUrl: string;
  workDir: string;
  trustedKeys: readonly TrustedKey[];
  probes: FrameImage[];
  campaign: Campaign;
  bootFromStore?: boolean;
  log: Logger;
}): Promise<SimulatedRobot> {
  return SimulatedRobot.start({ ...options, fleet: SIM_FLEET, latencyBudgetMs: 200 });
}

/** Starts the collector of the simulated fleet; it commits a field batch only when flushed. */
export function startSimCollector(options: { brokerUrl: string; storeDir: string; statePath: string; log: Logger }): Promise<FleetCollector> {
  return FleetCollector.start({
    fleet: SIM_FLEET,
    broker: { url: options.brokerUrl, protocolVersion: 4 },
    storeDir: options.storeDir,
    statePath: options.statePath,
    commitEvery: 1_000_000,
    commitIntervalMs: 24 * 3_600_000,
    log: options.log,
  });
}
