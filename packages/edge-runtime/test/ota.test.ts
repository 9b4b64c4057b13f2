import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { packBundle } from '../src/bundle/bundle-archive.ts';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair, parsePrivateKey, trustedKeysFrom } from '../src/bundle/signing-keys.ts';
import { bootFromStore, installBundle } from '../src/ota/boot.ts';
import { ModelStore } from '../src/ota/model-store.ts';
import { publishBundle } from '../src/ota/publish-bundle.ts';
import { isTargeted, type UpdateReport } from '../src/ota/announcement.ts';
import { startAedes, startMosquitto, type TestBroker } from './helpers/brokers.ts';
import { CRASH_NAME, LATE_SLOW_NAME, SLOW_NAME, TestRobot, buildBrightNaNModel } from './helpers/robot.ts';
import { memoryLog } from './helpers/test-log.ts';
import { buildTwoHeadModel, tempDir, writeTfjsBundle } from './helpers/tiny-models.ts';
import { createBundle } from '../src/bundle/create-bundle.ts';
import { saveTfjsModel } from '../src/engines/save-tfjs-model.ts';
import { HEADS, INPUT } from './helpers/tiny-models.ts';

const FLEET = 'test-fleet';
const pair = generateSigningKeyPair();
const privateKey = parsePrivateKey(pair.privateKeyPem);
const trusted = trustedKeysFrom([pair.publicKeyPem]);
let root: Awaited<ReturnType<typeof tempDir>>;

async function bundle(name: string, version: number, model = buildTwoHeadModel({ seed: version }), key = privateKey, bundleName?: string): Promise<string> {
  const dir = join(root.path, 'bundles', name);
  if (bundleName) {
    const modelPath = await saveTfjsModel(model, `${dir}.model`);
    await createBundle({ dir, modelPath, name: bundleName, version, heads: HEADS, input: INPUT, privateKey: key });
  } else {
    await writeTfjsBundle(model, dir, version, key);
  }
  return dir;
}

async function publisher(broker: TestBroker): Promise<MqttClient> {
  return mqtt.connectAsync(broker.url, { protocolVersion: broker.protocolVersion, clientId: `publisher-${Date.now()}` });
}

beforeAll(async () => {
  root = await tempDir('ota');
});
afterAll(() => root.remove());

describe('updates over aedes', () => {
  let broker: TestBroker;
  let client: MqttClient;
  let robot: TestRobot;

  beforeAll(async () => {
    broker = await startAedes();
    client = await publisher(broker);
    const store = new ModelStore(join(root.path, 'robot-1'));
    await installBundle(store, await bundle('v1', 1), 'test-student', 1);
    robot = new TestRobot('robot-1', store.root, trusted);
    await robot.start(broker, FLEET);
  });
  afterAll(async () => {
    await client.endAsync();
    await broker.close();
  });

  async function rollout(bundleDir: string) {
    const started = Date.now();
    const published = await publishBundle({ client, fleet: FLEET, bundleDir, robots: ['robot-1'], stopAboveFailedShare: 1 });
    await published.settled(['robot-1'], 30_000);
    await published.close();
    await writeFile(join(root.path, 'last-announcement.json'), JSON.stringify(published.announcement));
    await robot.agent.idle();
    return { report: published.outcomes.get('robot-1')!, started };
  }

  it('applies a good update', async () => {
    const { report, started } = await rollout(await bundle('v2', 2));
    expect(report.outcome).toBe('applied');
    expect(robot.runtime.activeModel?.manifest.version).toBe(2);
    expect(robot.versionsSince(started).has(2)).toBe(true);
    expect((await new ModelStore(robot.storeDir).readPointer('previous'))?.version).toBe(1);
  });

  it('rejects a bad signature', async () => {
    const dir = await bundle('v3', 3, undefined, parsePrivateKey(generateSigningKeyPair().privateKeyPem));
    const { report, started } = await rollout(dir);
    expect(report.outcome).toBe('rejected');
    expect(report.reason).toMatch(/not trusted/);
    expect([...robot.versionsSince(started)]).toEqual([2]);
  });

  it('rejects a bad model hash', async () => {
    const dir = await bundle('v4', 4);
    const weights = await readFile(join(dir, 'weights.bin'));
    weights[3] = (weights[3] ?? 0) ^ 0x55;
    await writeFile(join(dir, 'weights.bin'), weights);
    const { report, started } = await rollout(dir);
    expect(report.outcome).toBe('rejected');
    expect(report.reason).toMatch(/sha256/);
    expect([...robot.versionsSince(started)]).toEqual([2]);
  });

  it('rejects a model that outputs NaN', async () => {
    const { report, started } = await rollout(await bundle('v5', 5, buildTwoHeadModel({ fill: Number.NaN })));
    expect(report.outcome).toBe('rejected');
    expect(report.reason).toMatch(/non-finite/);
    expect([...robot.versionsSince(started)]).toEqual([2]);
  });

  it('rejects a model over the latency budget', async () => {
    const { report, started } = await rollout(await bundle('v6', 6, undefined, privateKey, SLOW_NAME));
    expect(report.outcome).toBe('rejected');
    expect(report.reason).toMatch(/exceeds the budget/);
    expect([...robot.versionsSince(started)]).toEqual([2]);
  });

  it('rolls back NaN outputs in probation', async () => {
    const { report } = await rollout(await bundle('v7', 7, buildBrightNaNModel()));
    expect(report.outcome).toBe('rolled-back');
    expect(report.reason).toMatch(/non-finite/);
    expect(robot.runtime.activeModel?.manifest.version).toBe(2);
    const after = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...robot.versionsSince(after)]).toEqual([2]);
  });

  it('rolls back a latency blow-up in probation', async () => {
    const { report } = await rollout(await bundle('v8', 8, undefined, privateKey, LATE_SLOW_NAME));
    expect(report.outcome).toBe('rolled-back');
    expect(report.reason).toMatch(/median latency .* exceeds the budget/);
    expect(robot.runtime.activeModel?.manifest.version).toBe(2);
  });

  it('rolls back inference crashes in probation', async () => {
    const unansweredBefore = robot.unanswered;
    const { report } = await rollout(await bundle('v9', 9, undefined, privateKey, CRASH_NAME));
    expect(report.outcome).toBe('rolled-back');
    expect(report.reason).toMatch(/simulated engine crash/);
    expect(robot.runtime.activeModel?.manifest.version).toBe(2);
    // The frames the crashing model failed on were answered by the previous model.
    expect(robot.unanswered - unansweredBefore).toBe(0);
    robot.unanswered = unansweredBefore;
  });

  it('ignores a rejected version announced again', async () => {
    const before = robot.log.lines.length;
    await client.publishAsync('fieldloop/test-fleet/model', JSON.stringify(JSON.parse((await readFile(join(root.path, 'last-announcement.json'), 'utf8')))), { qos: 1, retain: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await robot.agent.idle();
    expect(robot.log.lines.slice(before).some((line) => /fetching bundle/.test(line.message))).toBe(false);
  });

  it('fetches a bundle over HTTP', async () => {
    const dir = await bundle('v10', 10);
    const archive = await packBundle(dir);
    const server = createServer((request, response) => {
      if (request.url === '/v10.tar') response.end(archive);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v10.tar`;
    try {
      const published = await publishBundle({ client, fleet: FLEET, bundleDir: dir, robots: ['robot-1'], url });
      await published.settled(['robot-1'], 30_000);
      await published.close();
      expect(published.announcement.archive).toBeUndefined();
      expect(published.outcomes.get('robot-1')?.outcome).toBe('applied');
      expect(robot.runtime.activeModel?.manifest.version).toBe(10);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects an archive corrupted in transit', async () => {
    const dir = await bundle('v11', 11);
    const archive = await packBundle(dir);
    archive[600] = (archive[600] ?? 0) ^ 0xff;
    const published = await publishBundle({ client, fleet: FLEET, bundleDir: dir, robots: ['robot-1'] });
    await published.settled(['robot-1'], 30_000);
    await published.close();
    const announcement = { ...published.announcement, manifest: { ...published.announcement.manifest, version: 12 }, archive: archive.toString('base64') };
    const reports: UpdateReport[] = [];
    const watcher = await publisher(broker);
    watcher.on('message', (_topic, payload) => reports.push(JSON.parse(payload.toString()) as UpdateReport));
    await watcher.subscribeAsync('fieldloop/test-fleet/robots/robot-1/updates');
    await client.publishAsync('fieldloop/test-fleet/model', JSON.stringify(announcement), { qos: 1, retain: true });
    for (let i = 0; i < 100 && reports.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    await watcher.endAsync();
    expect(reports[0]?.outcome).toBe('rejected');
    expect(reports[0]?.reason).toMatch(/download is corrupt/);
    expect(robot.runtime.activeModel?.manifest.version).toBe(11);
  });

  it('answers every frame throughout', () => {
    expect(robot.unanswered).toBe(0);
    expect(robot.answers.length).toBeGreaterThan(20);
  });

  it('boots the last good model offline', async () => {
    await robot.stop();
    const booted = await bootFromStore(new ModelStore(robot.storeDir), { trustedKeys: trusted, log: memoryLog() });
    expect(booted?.manifest.version).toBe(11);
    booted?.dispose();
  });
});

describe('probation across a clean restart', () => {
  let broker: TestBroker;
  let client: MqttClient;

  beforeAll(async () => {
    broker = await startAedes();
    client = await publisher(broker);
  });
  afterAll(async () => {
    await client.endAsync();
    await broker.close();
  });

  async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('resumes a probation that a clean stop paused', async () => {
    const store = new ModelStore(join(root.path, 'robot-restart'));
    await installBundle(store, await bundle('r1', 1), 'test-student', 1);
    // Probation needs more frames than this robot serves before it stops.
    const first = new TestRobot('robot-restart', store.root, trusted, 1_000_000);
    await first.start(broker, FLEET);
    const published = await publishBundle({ client, fleet: FLEET, bundleDir: await bundle('r2', 2), robots: ['robot-restart'] });
    await waitFor(async () => (await store.readPointer('current'))?.state === 'probation', 'the switch to version 2');
    await first.stop();
    await published.close();
    expect(await store.readPointer('current')).toMatchObject({ version: 2, state: 'paused' });

    const booted = await bootFromStore(store, { trustedKeys: trusted, log: memoryLog() });
    expect(booted?.manifest.version).toBe(2);
    booted?.dispose();
    expect(await store.rejectedVersions()).toEqual({});

    const second = new TestRobot('robot-restart', store.root, trusted, 10);
    await second.start(broker, FLEET);
    try {
      await waitFor(async () => (await store.readPointer('current'))?.state === 'good', 'probation to pass after the restart');
      expect(second.runtime.activeModel?.manifest.version).toBe(2);
      expect(second.log.lines.some((line) => line.message === 'resumed the probation of the served model')).toBe(true);
      expect((await store.readPointer('previous'))?.version).toBe(1);
    } finally {
      await second.stop();
    }
  });
});

describe('boot', () => {
  it('rolls back an update stopped in probation', async () => {
    const store = new ModelStore(join(root.path, 'robot-boot'));
    await installBundle(store, await bundle('b1', 1), 'test-student', 1);
    await installBundle(store, await bundle('b2', 2), 'test-student', 2);
    const current = await store.readPointer('current');
    await store.writePointer('current', { ...current!, state: 'probation' });
    const booted = await bootFromStore(store, { trustedKeys: trusted, log: memoryLog() });
    expect(booted?.manifest.version).toBe(1);
    expect(Object.keys(await store.rejectedVersions())).toEqual(['test-student@2']);
    booted?.dispose();
  });

  it('falls back when the current bundle is corrupt', async () => {
    const store = new ModelStore(join(root.path, 'robot-corrupt'));
    await installBundle(store, await bundle('c1', 1), 'test-student', 1);
    await installBundle(store, await bundle('c2', 2), 'test-student', 2);
    const current = await store.readPointer('current');
    await writeFile(join(store.bundlePath(current!), 'weights.bin'), 'garbage');
    const booted = await bootFromStore(store, { trustedKeys: trusted, log: memoryLog() });
    expect(booted?.manifest.version).toBe(1);
    booted?.dispose();
  });
});

describe('isTargeted', () => {
  it('picks about the given percentage', () => {
    const robots = Array.from({ length: 1000 }, (_, i) => `robot-${i}`);
    const picked = robots.filter((robot) => isTargeted({ id: 'r-1', percentage: 25 }, robot)).length;
    expect(picked).toBeGreaterThan(200);
    expect(picked).toBeLessThan(300);
  });
  it('keeps a robot in a growing rollout', () => {
    const robots = Array.from({ length: 200 }, (_, i) => `robot-${i}`);
    const small = robots.filter((robot) => isTargeted({ id: 'r-2', percentage: 10 }, robot));
    expect(small.every((robot) => isTargeted({ id: 'r-2', percentage: 50 }, robot))).toBe(true);
  });
  it('prefers the robot list', () => {
    expect(isTargeted({ id: 'r-3', robots: ['a'], percentage: 100 }, 'b')).toBe(false);
  });
});

describe('rollout targeting', () => {
  let broker: TestBroker;
  let client: MqttClient;
  const robots: TestRobot[] = [];

  beforeAll(async () => {
    broker = await startAedes();
    client = await publisher(broker);
    const v1 = await bundle('t1', 1);
    for (const id of ['canary-a', 'canary-b']) {
      const store = new ModelStore(join(root.path, id));
      await installBundle(store, v1, 'test-student', 1);
      const robot = new TestRobot(id, store.root, trusted);
      await robot.start(broker, 'canary-fleet');
      robots.push(robot);
    }
  });
  afterAll(async () => {
    for (const robot of robots) await robot.stop();
    await client.endAsync();
    await broker.close();
  });

  it('updates only the listed canary', async () => {
    const published = await publishBundle({ client, fleet: 'canary-fleet', bundleDir: await bundle('t2', 2), robots: ['canary-a'] });
    await published.settled(['canary-a'], 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await published.close();
    expect(robots[0]!.runtime.activeModel?.manifest.version).toBe(2);
    expect(robots[1]!.runtime.activeModel?.manifest.version).toBe(1);
  });

  it('stops when failures pass the threshold', async () => {
    const dir = await bundle('t3', 3, buildTwoHeadModel({ fill: Number.NaN }));
    const published = await publishBundle({ client, fleet: 'canary-fleet', bundleDir: dir, stopAboveFailedShare: 0.4 });
    await published.settled(['canary-a', 'canary-b'], 30_000);
    await published.close();
    expect(published.stopped).toBe(true);
    expect(robots[1]!.runtime.activeModel?.manifest.version).toBe(1);
  });
});

describe('updates over mosquitto', () => {
  it('applies a good update', async (context) => {
    const broker = await startMosquitto();
    if (!broker) {
      context.skip('mosquitto not found at /usr/sbin/mosquitto; skipping the MQTT 5 broker test');
      return;
    }
    const client = await publisher(broker);
    const store = new ModelStore(join(root.path, 'robot-m'));
    await installBundle(store, await bundle('m1', 1), 'test-student', 1);
    const robot = new TestRobot('robot-m', store.root, trusted);
    await robot.start(broker, 'mosquitto-fleet');
    try {
      const published = await publishBundle({ client, fleet: 'mosquitto-fleet', bundleDir: await bundle('m2', 2), robots: ['robot-m'] });
      await published.settled(['robot-m'], 30_000);
      await published.close();
      expect(published.outcomes.get('robot-m')?.outcome).toBe('applied');
      expect(robot.runtime.activeModel?.manifest.version).toBe(2);
    } finally {
      await robot.stop();
      await client.endAsync();
      await broker.close();
    }
  });
});
