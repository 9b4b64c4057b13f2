import { spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fleetTopics } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetCollector, type CollectorOptions } from '../../src/fleet/collector.ts';
import { MqttUplink } from '../../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';
import { COLLECTOR_SCRIPT, killScript, runScript } from './support/child-script.ts';
import { makeSample, waitFor } from './support/field-samples.ts';
import { Mosquitto, mosquittoMissing } from './support/mosquitto.ts';

const FLEET = 'test-fleet';
const CONFIG_DIR = fileURLToPath(new URL('../../configs/mosquitto/', import.meta.url));

if (mosquittoMissing) console.warn(`skipping mosquitto tests: ${mosquittoMissing}`);

function pendingRows(statePath: string): number {
  const db = new Database(statePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM pending').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function latestSampleIds(storeDir: string): Promise<string[]> {
  const store = await DatasetStore.open(storeDir, { readOnly: true });
  try {
    const latest = store.latestSnapshot();
    return latest ? [...store.samples(latest.version)].map((sample) => sample.id) : [];
  } finally {
    await store.close();
  }
}

describe.skipIf(mosquittoMissing !== null)('fleet transport through mosquitto', () => {
  let dir: string;
  let broker: Mosquitto | null = null;
  const cleanups: Array<() => Promise<void> | void> = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-mosquitto-'));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await broker?.stop();
    broker = null;
    await rm(dir, { recursive: true, force: true });
  });

  async function collector(url: string, extra: Partial<CollectorOptions> = {}): Promise<FleetCollector> {
    const started = await FleetCollector.start({
      fleet: FLEET,
      broker: { url, reconnectPeriodMs: 100 },
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

  function uplink(url: string, robot: string): MqttUplink {
    const queue = OutboundQueue.open({ path: join(dir, `${robot}-queue.db`), synchronous: 'normal' });
    const started = new MqttUplink({ fleet: FLEET, robot, broker: { url, reconnectPeriodMs: 100 }, queue, maxMessagesPerSecond: 5000 });
    cleanups.push(async () => {
      await started.close();
      queue.close();
    });
    return started;
  }

  it('loses and duplicates nothing across a broker restart', async () => {
    broker = await Mosquitto.start(dir);
    const base = await collector(broker.url);
    const robot = uplink(broker.url, 'rover-1');
    const total = 150;
    for (let i = 0; i < total; i += 1) {
      if (i === 60) await broker.restart();
      await robot.add(makeSample(`restart${i}`).record, makeSample(`restart${i}`).blobs);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await robot.drain(30_000);
    await waitFor(() => base.stats().accepted === total, `${total} accepted samples`, 30_000);
    await base.close();
    const ids = await latestSampleIds(join(dir, 'store'));
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
  });

  it('splits samples across a shared subscription', async () => {
    broker = await Mosquitto.start(dir);
    const first = await collector(broker.url, { clientId: 'base-a', shareGroup: 'base', statePath: join(dir, 'a.db') });
    const second = await collector(broker.url, { clientId: 'base-b', shareGroup: 'base', statePath: join(dir, 'b.db') });
    const robot = uplink(broker.url, 'rover-1');
    for (let i = 0; i < 40; i += 1) await robot.add(makeSample(`share${i}`).record, makeSample(`share${i}`).blobs);
    await waitFor(() => first.stats().accepted + second.stats().accepted === 40, '40 samples across both collectors');
    expect(first.stats().accepted).toBeGreaterThan(0);
    expect(second.stats().accepted).toBeGreaterThan(0);
    await first.close();
    await second.close();
    expect((await latestSampleIds(join(dir, 'store'))).length).toBe(40);
  });

  it('shared connections deliver every sample once', async () => {
    broker = await Mosquitto.start(dir);
    const base = await collector(broker.url, { connections: 4 });
    const robots = [uplink(broker.url, 'rover-1'), uplink(broker.url, 'rover-2')];
    const total = 200;
    await Promise.all(Array.from({ length: total }, (_, i) => robots[i % 2]?.add(makeSample(`group${i}`).record, makeSample(`group${i}`).blobs)));
    await waitFor(() => base.stats().accepted === total, `${total} accepted samples`, 30_000);
    const batch = await base.close();
    expect(batch?.perRobot).toEqual({ 'rover-1': total / 2, 'rover-2': total / 2 });
    expect(base.stats().duplicateSequence).toBe(0);
    const ids = await latestSampleIds(join(dir, 'store'));
    expect(ids.length).toBe(total);
    expect(new Set(ids).size).toBe(total);
  });

  it('shared connections subscribe again after a broker restart', async () => {
    broker = await Mosquitto.start(dir);
    const base = await collector(broker.url, { connections: 4 });
    const robot = uplink(broker.url, 'rover-1');
    await broker.restart();
    // mosquitto 2.0.11 restores the sessions without their shared subscriptions; wait for the renewal.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (let i = 0; i < 20; i += 1) await robot.add(makeSample(`renew${i}`).record, makeSample(`renew${i}`).blobs);
    await waitFor(() => base.stats().accepted === 20, '20 accepted samples after the restart');
    expect(base.stats().accepted).toBe(20);
  });

  it('shared collector keeps samples after SIGKILL', async () => {
    broker = await Mosquitto.start(dir);
    const storeDir = join(dir, 'store');
    const statePath = join(dir, 'collector.db');
    const child = await runScript(COLLECTOR_SCRIPT, [broker.url, storeDir, statePath, '5', '4'], 'ready');
    const robot = uplink(broker.url, 'rover-1');
    const count = 60;
    await Promise.all(Array.from({ length: count }, (_, i) => robot.add(makeSample(`kill${i}`).record, makeSample(`kill${i}`).blobs)));
    await robot.drain(20_000);
    // The child records a message in its state before the PUBACK and never commits to the store.
    await waitFor(() => pendingRows(statePath) === count, `${count} pending rows in the child's state`);
    await killScript(child);

    const restarted = await collector(broker.url, { clientId: 'crash-test-collector', connections: 4, storeDir, statePath });
    // Messages whose PUBACK the kill cut off come again and must count as duplicates.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const batch = await restarted.flush();
    expect(batch?.added).toBe(count);
    expect(restarted.stats().accepted).toBe(0);
    const ids = await latestSampleIds(storeDir);
    expect(ids.length).toBe(count);
    expect(new Set(ids).size).toBe(count);
  });

  it('sends samples over TLS', async () => {
    const openssl = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.crt'),
    ]);
    if (openssl.status !== 0) throw new Error(`openssl could not make a test certificate: ${openssl.stderr.toString()}`);
    broker = await Mosquitto.start(dir, [`certfile ${join(dir, 'server.crt')}`, `keyfile ${join(dir, 'server.key')}`]);
    const url = `mqtts://127.0.0.1:${broker.port}`;
    const tls = { caFile: join(dir, 'server.crt') };
    const base = await FleetCollector.start({ fleet: FLEET, broker: { url, tls }, storeDir: join(dir, 'store'), statePath: join(dir, 'tls.db') });
    cleanups.push(async () => {
      await base.close();
    });
    const queue = OutboundQueue.open({ path: join(dir, 'tls-queue.db') });
    const robot = new MqttUplink({ fleet: FLEET, robot: 'rover-1', broker: { url, tls }, queue });
    cleanups.push(async () => {
      await robot.close();
      queue.close();
    });
    await robot.add(makeSample('tls').record, makeSample('tls').blobs);
    await waitFor(() => base.stats().accepted === 1, 'the sample over TLS');
    expect(base.stats().accepted).toBe(1);
  });

  describe('access control example', () => {
    async function startWithAcl(): Promise<Mosquitto> {
      for (const name of ['acl', 'passwd']) {
        await copyFile(join(CONFIG_DIR, name), join(dir, name));
        await chmod(join(dir, name), 0o600);
      }
      return Mosquitto.start(dir, [`password_file ${join(dir, 'passwd')}`, `acl_file ${join(dir, 'acl')}`, 'allow_anonymous false']);
    }

    async function login(url: string, user: string): Promise<mqtt.MqttClient> {
      const client = await mqtt.connectAsync(url, { protocolVersion: 5, username: user, password: `${user}-example-password`, reconnectPeriod: 0 });
      cleanups.push(() => client.endAsync());
      return client;
    }

    async function publishCode(client: mqtt.MqttClient, topic: string): Promise<number> {
      try {
        await client.publishAsync(topic, 'x', { qos: 1 });
        return 0;
      } catch (error) {
        return (error as { code?: number }).code ?? -1;
      }
    }

    it('lets a robot publish under its own id', async () => {
      broker = await startWithAcl();
      const robot = await login(broker.url, 'rover-1');
      expect(await publishCode(robot, fleetTopics.samples(FLEET, 'rover-1'))).toBe(0);
    });

    it('stops a robot publishing under another id', async () => {
      broker = await startWithAcl();
      const base = await login(broker.url, 'collector');
      const received: string[] = [];
      base.on('message', (topic) => received.push(topic));
      await base.subscribeAsync(fleetTopics.allSamples(FLEET), { qos: 1 });
      const robot = await login(broker.url, 'rover-1');
      expect(await publishCode(robot, fleetTopics.samples(FLEET, 'rover-2'))).toBe(0x87);
      expect(await publishCode(robot, fleetTopics.samples(FLEET, 'rover-1'))).toBe(0);
      await waitFor(() => received.length === 1, 'the allowed sample');
      expect(received).toEqual([fleetTopics.samples(FLEET, 'rover-1')]);
    });

    it('lets only the release role publish models', async () => {
      broker = await startWithAcl();
      const robot = await login(broker.url, 'rover-1');
      const release = await login(broker.url, 'release');
      expect(await publishCode(robot, fleetTopics.model(FLEET))).toBe(0x87);
      expect(await publishCode(release, fleetTopics.model(FLEET))).toBe(0);
    });

    it('rejects a wrong password', async () => {
      broker = await startWithAcl();
      await expect(
        mqtt.connectAsync(broker.url, { protocolVersion: 5, username: 'rover-1', password: 'wrong', reconnectPeriod: 0 }),
      ).rejects.toThrow(/Bad User Name or Password|Not authorized/);
    });
  });
});
