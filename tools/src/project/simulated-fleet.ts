import { connectAsync, type MqttClient } from 'mqtt';
import { trustedKeysFrom } from '@fieldloop/edge-runtime';
import { startEmbeddedBroker, type FleetCollector } from '@fieldloop/ros-bridge';
import { loadOrCreateKeys, probeFrames, startSimCollector, startSimRobot } from '../loop/loop-resources.ts';
import type { SimulatedRobot } from '../loop/simulated-robot.ts';
import { dataConfigOf, type ProjectContext } from './project-context.ts';

/** A fleet session: an embedded broker, a release client and the project's robots. */
export interface SimulatedFleet {
  client: MqttClient;
  robots: SimulatedRobot[];
  robotIds: string[];
  /** Present when the session was opened with a collector. */
  collector: FleetCollector | null;
}

/**
 * Starts the project's simulated fleet for one stage: an in-process aedes broker, the release
 * client, and each robot with its bundle store under the project directory, booting the model it
 * served when the last session ended. Everything stops when `work` settles.
 */
export async function withSimulatedFleet<T>(
  context: ProjectContext,
  options: { collector: boolean; probeSnapshot: number },
  work: (fleet: SimulatedFleet) => Promise<T>,
): Promise<T> {
  const { paths, log } = context;
  const dataConfig = await dataConfigOf(context);
  const keys = await loadOrCreateKeys(paths.keys);
  const broker = await startEmbeddedBroker();
  log.info({ url: broker.url }, 'embedded MQTT broker (aedes) started');
  const robots: SimulatedRobot[] = [];
  let client: MqttClient | null = null;
  let collector: FleetCollector | null = null;
  try {
    client = await connectAsync(broker.url, { clientId: 'fieldloop-release', protocolVersion: 4 });
    if (options.collector) {
      collector = await startSimCollector({ brokerUrl: broker.url, storeDir: paths.store, statePath: paths.collectorState, log });
    }
    const robotIds = Array.from({ length: dataConfig.fleet.robots }, (_, i) => `robot-${i + 1}`);
    const probes = await probeFrames(paths.store, options.probeSnapshot, 3);
    const trustedKeys = trustedKeysFrom([keys.publicKeyPem]);
    for (const robot of robotIds) {
      robots.push(
        await startSimRobot({ robot, brokerUrl: broker.url, workDir: paths.robot(robot), trustedKeys, probes, campaign: dataConfig.fleet.campaign, bootFromStore: true, log }),
      );
    }
    return await work({ client, robots, robotIds, collector });
  } finally {
    for (const robot of robots) await robot.stop();
    await collector?.close();
    await client?.endAsync();
    await broker.close();
  }
}
