import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findSharedData } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { describe, expect, it } from 'vitest';
import { bridgeCommand } from '../../src/cli/bridge-command.ts';
import { FleetCollector } from '../../src/fleet/collector.ts';
import { startEmbeddedBroker } from '../../src/fleet/embedded-broker.ts';
import { runIngest } from '../../src/ingest/run-ingest.ts';
import { loadMapping } from '../../src/mapping/load-mapping.ts';
import { captureContext } from './support/capture-context.ts';
import { waitFor } from './support/field-samples.ts';

const data = findSharedData();
const MAPPING = fileURLToPath(new URL('../../../../configs/mappings/rc-steering.yaml', import.meta.url));

async function sampleIds(storeDir: string): Promise<string[]> {
  const store = await DatasetStore.open(storeDir, { readOnly: true });
  try {
    return [...store.samples('latest')].map((sample) => sample.id).sort();
  } finally {
    await store.close();
  }
}

describe.skipIf(!data)('bridge on shared/data (skipped: shared/data not found beside the repository)', () => {
  it('delivers the RC night drive as ingest stores it', async () => {
    const recording = join(data as string, 'bags', 'rc_night_a', 'rc_night_a.mcap');
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-shared-bridge-'));
    const broker = await startEmbeddedBroker();
    try {
      const ingested = await runIngest({
        paths: [recording],
        storeDir: join(dir, 'ingest-store'),
        mapping: await loadMapping(MAPPING),
        allowPartial: false,
        msgPaths: [],
        note: 'reference',
      });
      expect(ingested.problems).toEqual([]);
      const collector = await FleetCollector.start({
        fleet: 'night',
        broker: { url: broker.url, protocolVersion: 4 },
        storeDir: join(dir, 'fleet-store'),
        statePath: join(dir, 'collector.db'),
      });
      const result = await bridgeCommand.run(
        [],
        { robot: 'rc-car', fleet: 'night', mapping: MAPPING, replay: recording, broker: broker.url, mqttVersion: '4', queue: join(dir, 'queue.db'), rate: '5000' },
        captureContext(),
      );
      expect(result.exitCode).toBe(0);
      await waitFor(() => collector.stats().accepted === 108, '108 frames');
      await collector.close();
      expect(await sampleIds(join(dir, 'fleet-store'))).toEqual(await sampleIds(join(dir, 'ingest-store')));
    } finally {
      await broker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
