import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetTopics } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetCollector } from '../../src/fleet/collector.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/fleet/embedded-broker.ts';
import { MqttUplink } from '../../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';
import { encodeSample, newBootId } from '../../src/fleet/sample-codec.ts';
import { makeSample, waitFor } from './support/field-samples.ts';
import { TcpProxy } from './support/tcp-proxy.ts';

const FLEET = 'test-fleet';

async function storeSampleIds(storeDir: string): Promise<string[]> {
  const store = await DatasetStore.open(storeDir, { readOnly: true });
  try {
    const latest = store.latestSnapshot();
    return latest ? [...store.samples(latest.version)].map((sample) => sample.id) : [];
  } finally {
    await store.close();
  }
}

/** Returns the first 8 bytes of each pack file of a store, in name order. */
async function packHeads(storeDir: string): Promise<Buffer[]> {
  const names = (await readdir(join(storeDir, 'packs'))).sort();
  return Promise.all(
    names.map(async (name) => {
      const head = Buffer.alloc(8);
      const pack = await open(join(storeDir, 'packs', name), 'r');
      await pack.read(head, 0, 8, 0);
      await pack.close();
      return head;
    }),
  );
}

describe('fleet transport through aedes', () => {
  let dir: string;
  let broker: EmbeddedBroker;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-fleet-'));
    broker = await startEmbeddedBroker();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function collector(url: string, extra: Partial<Parameters<typeof FleetCollector.start>[0]> = {}): Promise<FleetCollector> {
    const started = await FleetCollector.start({
      fleet: FLEET,
      broker: { url, protocolVersion: 4, reconnectPeriodMs: 100 },
      storeDir: join(dir, 'store'),
      statePath: join(dir, 'collector.db'),
      commitIntervalMs: 60_000,
      ...extra,
    });
    cleanups.push(async () => {
      await started.close();
    });
    return started;
  }

  function uplink(url: string, robot: string, extra: Partial<ConstructorParameters<typeof MqttUplink>[0]> = {}, queueName = robot): MqttUplink {
    const queue = OutboundQueue.open({ path: join(dir, `${queueName}-queue.db`), synchronous: 'normal' });
    const started = new MqttUplink({
      fleet: FLEET,
      robot,
      broker: { url, protocolVersion: 4, reconnectPeriodMs: 100 },
      queue,
      maxMessagesPerSecond: 5000,
      ...extra,
    });
    cleanups.push(async () => {
      await started.close();
      queue.close();
    });
    return started;
  }

  it('delivers samples from two robots into one batch', async () => {
    const base = await collector(broker.url);
    const robots = [uplink(broker.url, 'rover-1'), uplink(broker.url, 'rover-2')];
    for (let i = 0; i < 20; i += 1) await robots[i % 2]?.add(makeSample(`s${i}`).record, makeSample(`s${i}`).blobs);
    await waitFor(() => base.stats().accepted === 20, '20 accepted samples');
    const batch = await base.flush();
    expect(batch?.perRobot).toEqual({ 'rover-1': 10, 'rover-2': 10 });
    expect(batch?.added).toBe(20);
    await base.close();
    expect((await storeSampleIds(join(dir, 'store'))).length).toBe(20);
  });

  it('links a sealed journal segment in', async () => {
    const base = await collector(broker.url, { minAdoptedSegmentBytes: 1 });
    const robot = uplink(broker.url, 'rover-1');
    const samples = Array.from({ length: 5 }, (_, i) => makeSample(`once${i}`));
    for (const sample of samples) await robot.add(sample.record, sample.blobs);
    await waitFor(() => base.stats().accepted === 5, '5 accepted samples');
    expect((await base.flush())?.added).toBe(5);

    // The one pack is the journal segment, linked in: it starts with the journal's record magic, not the pack magic.
    expect((await packHeads(join(dir, 'store'))).map((head) => head.subarray(0, 4).toString('ascii'))).toEqual(['FLJ1']);
    // Settling removed the collector's name for the segment, and the new current segment is empty.
    const segments = await readdir(join(dir, 'collector.db.intake'));
    expect(segments).toHaveLength(1);
    expect((await stat(join(dir, 'collector.db.intake', segments[0]!))).size).toBe(0);

    await base.close();
    const store = await DatasetStore.open(join(dir, 'store'), { readOnly: true });
    try {
      for (const sample of samples) {
        expect((await store.readInput(sample.record)).equals(Buffer.from(sample.blobs.input))).toBe(true);
        expect((await store.readImage(sample.record)).equals(Buffer.from(sample.blobs.image))).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it('copies the payloads of a small segment into a pack', async () => {
    const base = await collector(broker.url);
    const robot = uplink(broker.url, 'rover-1');
    for (const round of [0, 1]) {
      const samples = Array.from({ length: 3 }, (_, i) => makeSample(`small${round}-${i}`));
      for (const sample of samples) await robot.add(sample.record, sample.blobs);
      await waitFor(() => base.stats().accepted === 3 * (round + 1), `round ${round} accepted`);
      expect((await base.flush())?.added).toBe(3);
    }
    // Both batches went into one pack with the pack magic, and the journal keeps only its empty current segment.
    expect((await packHeads(join(dir, 'store'))).map((head) => head.toString('ascii'))).toEqual(['FLDPACK1']);
    expect(await readdir(join(dir, 'collector.db.intake'))).toHaveLength(1);
  });

  it('backs off from a store that keeps failing', async () => {
    const errors: Array<Record<string, unknown>> = [];
    const log = { debug: () => {}, info: () => {}, warn: () => {}, error: (fields: Record<string, unknown>) => errors.push(fields) };
    const storeDir = join(dir, 'store');
    const base = await collector(broker.url, { commitEvery: 1, log });
    // The store path becomes a file, so every commit fails until it is a directory again.
    await rm(storeDir, { recursive: true, force: true });
    await (await open(storeDir, 'w')).close();
    const robot = uplink(broker.url, 'rover-1');
    for (let i = 0; i < 40; i += 1) {
      await robot.add(makeSample(`b${i}`).record, makeSample(`b${i}`).blobs);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(() => base.stats().accepted === 40, 'every sample in the state');
    // 40 message groups over about a second and a half met a failing store: one attempt, then one after the 1 s backoff.
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThanOrEqual(3);
    expect(errors.map((fields) => fields.retryInMs)).toEqual([1000, 2000, 4000].slice(0, errors.length));
    await rm(storeDir, { force: true });
    const batch = await base.flush();
    expect(batch?.added).toBe(40);
  });

  it('reassembles chunked samples', async () => {
    const base = await collector(broker.url);
    const robot = uplink(broker.url, 'rover-1', { maxPayloadBytes: 256 });
    const sample = makeSample('big', { width: 32, height: 32 });
    await robot.add(sample.record, sample.blobs);
    await waitFor(() => base.stats().accepted === 1, 'the chunked sample');
    await base.close();
    expect(await storeSampleIds(join(dir, 'store'))).toEqual([sample.record.id]);
  });

  it('stores unlabelled captures', async () => {
    const base = await collector(broker.url);
    const sample = makeSample('unlabelled', { labels: {} });
    await uplink(broker.url, 'rover-1').add(sample.record, sample.blobs);
    await waitFor(() => base.stats().accepted === 1, 'the unlabelled sample');
    const batch = await base.flush();
    expect(batch?.added).toBe(1);
  });

  it('rejects a corrupted journal record at commit', async () => {
    // Without the memory copy, the field batch reads every payload back from the journal.
    const base = await collector(broker.url, { payloadCacheBytes: 0 });
    const robot = uplink(broker.url, 'rover-1');
    const good = makeSample('good');
    await robot.add(good.record, good.blobs);
    await waitFor(() => base.stats().accepted === 1, 'the good sample');
    await base.flush();
    const damaged = makeSample('damaged');
    await robot.add(damaged.record, damaged.blobs);
    await waitFor(() => base.stats().accepted === 2, 'the damaged sample');

    // Both records are in the one segment of this run, and the damaged sample's record is the last.
    const journalDir = join(dir, 'collector.db.intake');
    const segments = await readdir(journalDir);
    expect(segments).toHaveLength(1);
    const file = await open(join(journalDir, segments[0] as string), 'r+');
    const last = (await file.stat()).size - 1;
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, last);
    await file.write(Buffer.from([(byte[0] as number) ^ 0xff]), 0, 1, last);
    await file.close();

    await expect(base.flush()).rejects.toThrow(/intake journal record of pending sample [0-9a-f]{64} .* is missing or corrupt/);
    await expect(base.close()).rejects.toThrow(/missing or corrupt/);
    expect(await storeSampleIds(join(dir, 'store'))).toEqual([good.record.id]);

    const restarted = await collector(broker.url);
    expect(restarted.stats().pending).toBe(0);
    await restarted.close();
    expect(await storeSampleIds(join(dir, 'store'))).toEqual([good.record.id]);
  });

  it('drops repeated content from another boot', async () => {
    const base = await collector(broker.url);
    const sample = makeSample('same');
    await uplink(broker.url, 'rover-1').add(sample.record, sample.blobs);
    // A queue can be open in one place at a time, so the second boot gets a queue of its own.
    await uplink(broker.url, 'rover-1', {}, 'rover-1-second-boot').add(sample.record, sample.blobs);
    await waitFor(() => base.stats().accepted + base.stats().duplicateContent === 2, 'both copies');
    expect(base.stats().duplicateContent).toBe(1);
  });

  it('drops content that the store has', async () => {
    const storeDir = join(dir, 'store');
    const sample = makeSample('stored');
    const other = makeSample('other');
    // Another process stored the sample before this collector started.
    const store = await DatasetStore.open(storeDir, { fsync: false });
    await store.createSnapshot({ note: 'ingest', samples: [{ record: other.record, ...other.blobs }, { record: sample.record, ...sample.blobs }] });
    await store.close();

    const base = await collector(broker.url);
    await uplink(broker.url, 'rover-1').add(sample.record, sample.blobs);
    await waitFor(() => base.stats().duplicateContent === 1, 'the stored sample dropped');
    expect(base.stats().accepted).toBe(0);

    // A sample committed by this collector's own batch is dropped when it comes again from a new boot.
    const fresh = makeSample('fresh');
    await uplink(broker.url, 'rover-2').add(fresh.record, fresh.blobs);
    await waitFor(() => base.stats().accepted === 1, 'the new sample');
    expect((await base.flush())?.added).toBe(1);
    await uplink(broker.url, 'rover-2', {}, 'rover-2-second-boot').add(fresh.record, fresh.blobs);
    await waitFor(() => base.stats().duplicateContent === 2, 'the committed sample dropped');
  });

  it('drops a redelivered sequence', async () => {
    const base = await collector(broker.url);
    const sample = makeSample('again');
    const payload = encodeSample({ robot: 'rover-1', bootId: newBootId(), sequence: 3, record: sample.record, image: sample.blobs.image, input: sample.blobs.input, extra: null });
    const raw = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    await raw.publishAsync(fleetTopics.samples(FLEET, 'rover-1'), payload, { qos: 1 });
    await raw.publishAsync(fleetTopics.samples(FLEET, 'rover-1'), payload, { qos: 1 });
    await raw.endAsync();
    await waitFor(() => base.stats().messages === 2, 'both messages');
    expect(base.stats().duplicateSequence).toBe(1);
  });

  it('rejects a robot id that does not match the topic', async () => {
    const base = await collector(broker.url);
    const sample = makeSample('spoof');
    const payload = encodeSample({ robot: 'rover-2', bootId: newBootId(), sequence: 0, record: sample.record, image: sample.blobs.image, input: sample.blobs.input, extra: null });
    const raw = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    await raw.publishAsync(fleetTopics.samples(FLEET, 'rover-1'), payload, { qos: 1 });
    await raw.endAsync();
    await waitFor(() => base.stats().messages === 1, 'the message');
    expect(base.stats().rejectedByRobot).toEqual({ 'rover-1': 1 });
  });

  it('survives 10,000 malformed payloads', async () => {
    const warnings: string[] = [];
    const log = { debug() {}, info() {}, error() {}, warn: (_fields: Record<string, unknown>, message: string) => void warnings.push(message) };
    const base = await collector(broker.url, { log });
    const raw = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const topic = fleetTopics.samples(FLEET, 'vandal');
    for (let i = 0; i < 10_000; i += 1) raw.publish(topic, Buffer.from(`garbage ${i}`), { qos: 0 });
    await waitFor(() => base.stats().messages === 10_000, '10,000 malformed messages', 60_000);
    const sample = makeSample('after');
    await uplink(broker.url, 'rover-1').add(sample.record, sample.blobs);
    await waitFor(() => base.stats().accepted === 1, 'a valid sample after the garbage');
    await raw.endAsync();
    expect(base.stats().rejectedByRobot).toEqual({ vandal: 10_000 });
    expect(warnings.length).toBeLessThan(20);
  });

  it('delivers everything across a network cut', async () => {
    const proxy = await TcpProxy.start(broker.port);
    cleanups.push(() => proxy.close());
    const base = await collector(broker.url);
    const robot = uplink(proxy.url, 'rover-1');
    const total = 120;
    for (let i = 0; i < total; i += 1) {
      if (i === 40) proxy.cut();
      if (i === 80) {
        expect(robot.stats().connected).toBe(false);
        proxy.restore();
      }
      await robot.add(makeSample(`cut${i}`).record, makeSample(`cut${i}`).blobs);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await robot.drain(20_000);
    await waitFor(() => base.stats().accepted === total, `${total} accepted samples`);
    await base.close();
    const ids = await storeSampleIds(join(dir, 'store'));
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
  });

  it('limits the replay rate after reconnecting', async () => {
    const proxy = await TcpProxy.start(broker.port);
    cleanups.push(() => proxy.close());
    proxy.cut();
    const base = await collector(broker.url);
    const robot = uplink(proxy.url, 'rover-1', { maxMessagesPerSecond: 40, maxInFlight: 4 });
    for (let i = 0; i < 44; i += 1) await robot.add(makeSample(`rate${i}`).record, makeSample(`rate${i}`).blobs);
    const start = performance.now();
    proxy.restore();
    await robot.drain(20_000);
    const elapsedMs = performance.now() - start;
    await waitFor(() => base.stats().accepted === 44, '44 accepted samples');
    // 4 messages go at once (the bucket's capacity); the other 40 need one second at 40 per second.
    expect(elapsedMs).toBeGreaterThan(900);
  });

  it('collector start rejects a refused connection', async () => {
    const closed = await startEmbeddedBroker();
    await closed.close();
    await expect(
      FleetCollector.start({ fleet: FLEET, broker: { url: closed.url, protocolVersion: 4 }, storeDir: join(dir, 'store'), statePath: join(dir, 'collector.db') }),
    ).rejects.toThrow(/could not connect to mqtt:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });

  it('collector start times out on a silent server', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const url = `mqtt://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    await expect(
      FleetCollector.start({ fleet: FLEET, broker: { url, protocolVersion: 4 }, storeDir: join(dir, 'store'), statePath: join(dir, 'collector.db'), startTimeoutMs: 500 }),
    ).rejects.toThrow(/within 500 ms/);
  });
});
