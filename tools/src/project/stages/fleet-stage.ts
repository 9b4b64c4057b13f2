import { publishBundle } from '@fieldloop/edge-runtime';
import { loadMapping } from '@fieldloop/ros-bridge';
import { SIM_FLEET, waitForCollector } from '../../loop/loop-resources.ts';
import { appendFieldBatch, type FieldBatchRecord } from '../field-batches.ts';
import { dataConfigOf, latestSnapshotOf, type ProjectContext } from '../project-context.ts';
import { deployedRelease, readReleases } from '../release-registry.ts';
import { withSimulatedFleet } from '../simulated-fleet.ts';

/**
 * Drives the simulated fleet once: each robot boots the model it serves, replays its share of
 * the data config's fleet recordings as its camera, and sends home what its triggers capture.
 * The collector commits the new samples as a field batch, which the next round trains on.
 * Returns null when the robots sent nothing new.
 */
export async function fleetStage(context: ProjectContext): Promise<FieldBatchRecord | null> {
  const { paths, log } = context;
  const deployed = deployedRelease(await readReleases(paths));
  if (!deployed) throw new Error(`no model has been published in ${paths.dir}, so the fleet has nothing to run; run npx nx run tools:loop first`);
  const dataConfig = await dataConfigOf(context);
  const latest = await latestSnapshotOf(paths.store);
  if (!latest) throw new Error(`store ${paths.store} has no snapshot; run npx nx run tools:loop first`);
  const batch = await withSimulatedFleet(context, { collector: true, probeSnapshot: latest.version }, async (fleet) => {
    // Robots that do not serve the deployed version yet (new robots) get it from the retained announcement.
    await publishBundle({ client: fleet.client, fleet: SIM_FLEET, bundleDir: deployed.bundleDir, rolloutId: `v${deployed.version}`, log });
    for (const robot of fleet.robots) await robot.waitForModel(deployed.version);
    for (const [index, robot] of fleet.robots.entries()) {
      const recordings = dataConfig.fleet.recordings.filter((_, i) => i % fleet.robots.length === index);
      const mapped = await Promise.all(recordings.map(async (r) => ({ path: r.path, mapping: await loadMapping(r.mapping) })));
      const stats = await robot.replay(mapped);
      log.info({ robot: fleet.robotIds[index], ...stats }, 'robot replayed its recordings');
    }
    if (!fleet.collector) throw new Error('the fleet session was opened without a collector');
    await waitForCollector(fleet.collector, fleet.robots.reduce((sum, robot) => sum + robot.acknowledgedMessages, 0));
    return fleet.collector.flush();
  });
  if (!batch) {
    log.info({ served: deployed.version }, 'the fleet sent nothing new home; the store is unchanged');
    return null;
  }
  const record: FieldBatchRecord = { snapshotVersion: batch.version, servedVersion: deployed.version, perRobot: batch.perRobot, added: batch.added };
  await appendFieldBatch(paths, record);
  log.info({ snapshot: batch.version, added: batch.added, perRobot: batch.perRobot }, 'field batch committed');
  return record;
}
