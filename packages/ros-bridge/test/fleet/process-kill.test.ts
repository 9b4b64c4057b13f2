import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetStore } from '@fieldloop/dataset';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetCollector } from '../../src/fleet/collector.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/fleet/embedded-broker.ts';
import { MqttUplink } from '../../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';
import { COLLECTOR_SCRIPT, ROBOT_SCRIPT, killScript, runScript } from './support/child-script.ts';
import { freePort } from './support/mosquitto.ts';
import { makeSample, waitFor } from './support/field-samples.ts';

describe('processes killed with SIGKILL', () => {
  let dir: string;
  let broker: EmbeddedBroker;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-robot-'));
    broker = await startEmbeddedBroker();
  });

  afterEach(async () => {
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers its queue after a restart', async () => {
    const queuePath = join(dir, 'queue.db');
    const count = 30;
    const offline = `mqtt://127.0.0.1:${await freePort()}`;
    const filler = await runScript(ROBOT_SCRIPT, ['fill', queuePath, offline, String(count)], `queued ${count}`);
    await killScript(filler);

    const queue = OutboundQueue.open({ path: queuePath });
    expect(queue.stats().items).toBe(count);
    queue.close();

    const base = await FleetCollector.start({
      fleet: 'test-fleet',
      broker: { url: broker.url, protocolVersion: 4 },
      storeDir: join(dir, 'store'),
      statePath: join(dir, 'collector.db'),
    });
    const drainer = await runScript(ROBOT_SCRIPT, ['drain', queuePath, broker.url, '0'], 'drained');
    await new Promise((resolve) => drainer.once('exit', resolve));
    await waitFor(() => base.stats().accepted === count, `${count} accepted samples`);
    await base.close();
    const store = await DatasetStore.open(join(dir, 'store'), { readOnly: true });
    expect(store.latestSnapshot()?.stats.samples).toBe(count);
    await store.close();
  });

  it('collector keeps acknowledged samples', async () => {
    const storeDir = join(dir, 'store');
    const statePath = join(dir, 'collector.db');
    const child = await runScript(COLLECTOR_SCRIPT, [broker.url, storeDir, statePath], 'ready');
    const queue = OutboundQueue.open({ path: join(dir, 'queue.db') });
    const uplink = new MqttUplink({ fleet: 'test-fleet', robot: 'rover-1', broker: { url: broker.url, protocolVersion: 4 }, queue, maxMessagesPerSecond: 5000 });
    const count = 25;
    for (let i = 0; i < count; i += 1) await uplink.add(makeSample(`crash${i}`).record, makeSample(`crash${i}`).blobs);
    await uplink.drain(20_000);
    await killScript(child);

    const restarted = await FleetCollector.start({
      fleet: 'test-fleet',
      broker: { url: broker.url, protocolVersion: 4 },
      storeDir,
      statePath,
      clientId: 'crash-test-collector',
    });
    for (let i = 0; i < 5; i += 1) await uplink.add(makeSample(`crash${i}`).record, makeSample(`crash${i}`).blobs);
    await uplink.drain(20_000);
    await uplink.close();
    queue.close();
    await waitFor(() => restarted.stats().duplicateContent === 5, 'five repeated samples');
    const batch = await restarted.close();
    expect(batch?.added).toBe(count);
    const store = await DatasetStore.open(storeDir, { readOnly: true });
    expect(store.latestSnapshot()?.stats.samples).toBe(count);
    await store.close();
  });

  it('collector killed mid-stream loses nothing', async () => {
    const storeDir = join(dir, 'store');
    const statePath = join(dir, 'collector.db');
    const child = await runScript(COLLECTOR_SCRIPT, [broker.url, storeDir, statePath], 'ready');
    const queue = OutboundQueue.open({ path: join(dir, 'queue.db') });
    const uplink = new MqttUplink({ fleet: 'test-fleet', robot: 'rover-1', broker: { url: broker.url, protocolVersion: 4 }, queue, maxMessagesPerSecond: 5000 });
    const count = 300;
    await Promise.all(Array.from({ length: count }, (_, i) => uplink.add(makeSample(`stream${i}`).record, makeSample(`stream${i}`).blobs)));
    // Killed while messages are in flight, some of them committed to the state and not yet acknowledged.
    await waitFor(() => uplink.stats().acknowledged >= 20, 'the first acknowledged messages');
    await killScript(child);

    const restarted = await FleetCollector.start({
      fleet: 'test-fleet',
      broker: { url: broker.url, protocolVersion: 4 },
      storeDir,
      statePath,
      clientId: 'crash-test-collector',
    });
    await uplink.drain(30_000);
    await uplink.close();
    queue.close();
    // Nothing is committed to the store before close, so the state ends with one pending row per sample.
    await waitFor(() => restarted.stats().pending === count, `${count} pending samples`);
    await restarted.close();
    // Samples the killed collector made durable are recovered; the broker redelivers the rest.
    expect(restarted.stats().recovered + restarted.stats().accepted).toBe(count);
    const store = await DatasetStore.open(storeDir, { readOnly: true });
    const latest = store.latestSnapshot();
    const ids = latest ? [...store.samples(latest.version)].map((sample) => sample.id) : [];
    expect(ids.length).toBe(count);
    expect(new Set(ids).size).toBe(count);
    await store.close();
  });
});
