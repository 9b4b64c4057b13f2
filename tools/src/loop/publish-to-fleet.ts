import type { KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { HeadSpec, InputSpec, Logger } from '@fieldloop/contracts';
import { createBundle, publishBundle } from '@fieldloop/edge-runtime';
import type { SimulatedRobot } from './simulated-robot.ts';

export interface PublishToFleetOptions {
  client: MqttClient;
  fleet: string;
  bundleDir: string;
  modelFile: string;
  version: number;
  heads: HeadSpec[];
  input: InputSpec;
  snapshotHash: string;
  privateKey: KeyObject;
  robots: readonly SimulatedRobot[];
  robotIds: readonly string[];
  log: Logger;
}

/**
 * Bundles and signs the model, publishes it to the first robot as a canary, waits until the
 * canary serves it, then publishes it to the whole fleet and waits for every robot.
 */
export async function publishToFleet(options: PublishToFleetOptions): Promise<void> {
  await createBundle({
    dir: options.bundleDir,
    modelPath: options.modelFile,
    name: 'fieldloop-student',
    version: options.version,
    heads: options.heads,
    input: options.input,
    quantization: 'int8',
    snapshotHash: options.snapshotHash,
    privateKey: options.privateKey,
  });
  const [canary, ...rest] = options.robots;
  const canaryId = options.robotIds[0];
  if (!canary || canaryId === undefined) throw new Error('the fleet has no robots to publish to');
  options.log.info({ version: options.version, canary: canaryId }, 'publishing to the canary');
  await publishBundle({ client: options.client, fleet: options.fleet, bundleDir: options.bundleDir, robots: [canaryId], rolloutId: `v${options.version}-canary`, log: options.log });
  await canary.waitForModel(options.version);
  if (rest.length === 0) return;
  options.log.info({ version: options.version, robots: options.robotIds.length }, 'canary serves the model; publishing to the whole fleet');
  await publishBundle({ client: options.client, fleet: options.fleet, bundleDir: options.bundleDir, rolloutId: `v${options.version}`, log: options.log });
  for (const robot of rest) await robot.waitForModel(options.version);
}
