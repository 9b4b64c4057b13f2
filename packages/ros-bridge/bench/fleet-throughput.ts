// End-to-end fleet throughput for 20 KB samples (durable queue, MQTT QoS 1, collector, data set
// store) next to plain mqtt.js QoS 1 publish and subscribe of same-sized payloads through the same
// broker, in one run. Brokers: the embedded aedes, and mosquitto when /usr/sbin/mosquitto exists.
// It also times the data set store alone on the same samples, which bounds the end-to-end rate,
// once with one file per blob (the store's default) and once with pack files (what the collector uses).
// NOTE: the robot side, the collector and aedes share one Node.js thread here, and SQLite commits
// block it while store file writes wait on the libuv pool, so separate machines should do better.
// Usage: npx nx run ros-bridge:bench-fleet [-- --samples N] [--sync full|normal] [--no-store-fsync] [--in-flight N] [--connections N]
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { computeSampleId, sha256Hex, type SampleRecord } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import mqtt from 'mqtt';
import { FleetCollector } from '../src/fleet/collector.ts';
import { startEmbeddedBroker } from '../src/fleet/embedded-broker.ts';
import { MqttUplink } from '../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../src/fleet/outbound-queue.ts';
import { encodeSample } from '../src/fleet/sample-codec.ts';
import { Mosquitto, mosquittoMissing } from '../test/fleet/support/mosquitto.ts';

const count = process.argv.includes('--samples') ? Number(process.argv[process.argv.indexOf('--samples') + 1]) : 1000;
const synchronous = process.argv.includes('--sync') ? (process.argv[process.argv.indexOf('--sync') + 1] as 'full' | 'normal') : 'full';
const storeFsync = !process.argv.includes('--no-store-fsync');
const maxInFlight = process.argv.includes('--in-flight') ? Number(process.argv[process.argv.indexOf('--in-flight') + 1]) : 64;
const connections = process.argv.includes('--connections') ? Number(process.argv[process.argv.indexOf('--connections') + 1]) : undefined;
const WIDTH = 64;
const HEIGHT = 64;
const IMAGE_BYTES = 7 * 1024;

interface BenchSample {
  record: SampleRecord;
  image: Buffer;
  input: Buffer;
}

function makeSamples(n: number): BenchSample[] {
  const samples: BenchSample[] = [];
  for (let i = 0; i < n; i += 1) {
    const input = randomBytes(WIDTH * HEIGHT * 3);
    const image = randomBytes(IMAGE_BYTES);
    const inputSha256 = sha256Hex(input);
    const labels = { steering: i % 90 };
    const record: SampleRecord = {
      id: computeSampleId(inputSha256, labels, []),
      imageSha256: sha256Hex(image),
      inputSha256,
      width: WIDTH,
      height: HEIGHT,
      labels,
      tags: [],
      source: { recording: 'bench', topic: '/camera', logTimeNs: String(1_700_000_000_000_000_000n + BigInt(i)), file: 'live' },
      splitKey: `bench-${createHash('md5').update(String(i)).digest('hex').slice(0, 6)}`,
    };
    samples.push({ record, image, input });
  }
  return samples;
}

async function plainRun(url: string, version: 4 | 5, payloads: Buffer[]): Promise<number> {
  const topic = 'bench/plain';
  const subscriber = await mqtt.connectAsync(url, { protocolVersion: version });
  await subscriber.subscribeAsync(topic, { qos: 1 });
  const publisher = await mqtt.connectAsync(url, { protocolVersion: version });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    subscriber.on('message', () => {
      received += 1;
      if (received === payloads.length) resolve();
    });
  });
  const start = performance.now();
  await Promise.all(payloads.map((payload) => publisher.publishAsync(topic, payload, { qos: 1 })));
  await done;
  const seconds = (performance.now() - start) / 1000;
  await publisher.endAsync();
  await subscriber.endAsync();
  return payloads.length / seconds;
}

/** Adds the samples to a new store as one snapshot, 32 adds at a time like the collector, and returns samples/s. */
async function storeRun(samples: BenchSample[], dir: string, packBlobs: boolean): Promise<number> {
  const start = performance.now();
  const store = await DatasetStore.open(dir, { fsync: storeFsync, packBlobs });
  const builder = store.beginSnapshot({ note: 'bench: store alone' });
  for (let index = 0; index < samples.length; index += 32) {
    await Promise.all(samples.slice(index, index + 32).map((sample) => builder.add(sample.record, { image: sample.image, input: sample.input })));
  }
  await builder.commit();
  await store.close();
  return samples.length / ((performance.now() - start) / 1000);
}

async function fleetRun(url: string, version: 4 | 5, samples: BenchSample[], dir: string): Promise<{ transport: number; endToEnd: number }> {
  const collector = await FleetCollector.start({
    fleet: 'bench',
    broker: { url, protocolVersion: version },
    storeDir: join(dir, 'store'),
    statePath: join(dir, 'collector.db'),
    clientId: `bench-${randomBytes(4).toString('hex')}`,
    commitEvery: 500,
    // MQTT 3.1.1 has no shared subscriptions, so aedes gets one connection.
    connections: version === 5 ? connections : 1,
    synchronous,
    storeFsync,
  });
  const queue = OutboundQueue.open({ path: join(dir, 'queue.db'), synchronous });
  const uplink = new MqttUplink({ fleet: 'bench', robot: 'bench-robot', broker: { url, protocolVersion: version }, queue, maxMessagesPerSecond: 1e9, maxInFlight });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const start = performance.now();
  // Like the plain publisher, the robot side hands over every sample at once; add() commits them in groups.
  await Promise.all(samples.map((sample) => uplink.add(sample.record, { image: sample.image, input: sample.input })));
  while (collector.stats().accepted < samples.length) await new Promise((resolve) => setImmediate(resolve));
  const acknowledged = performance.now();
  await collector.close();
  const committed = performance.now();
  await uplink.close();
  queue.close();
  return { transport: samples.length / ((acknowledged - start) / 1000), endToEnd: samples.length / ((committed - start) / 1000) };
}

const samples = makeSamples(count);
const payloadBytes = encodeSample({ robot: 'bench-robot', bootId: '0'.repeat(32), sequence: 0, record: samples[0]!.record, image: samples[0]!.image, input: samples[0]!.input, extra: null }).length;
const payloads = samples.map(() => randomBytes(payloadBytes));
console.log(
  `${count} samples of ${(payloadBytes / 1024).toFixed(1)} KiB per MQTT message; queue and collector state with SQLite synchronous=${synchronous.toUpperCase()}, ` +
    `store fsync ${storeFsync ? 'on' : 'off'}, collector connections on MQTT 5 ${connections ?? 'default'}`,
);

const brokers: Array<{ name: string; start: (dir: string) => Promise<{ url: string; version: 4 | 5; stop: () => Promise<void> }> }> = [
  {
    name: 'aedes (in-process, MQTT 3.1.1)',
    start: async () => {
      const broker = await startEmbeddedBroker();
      return { url: broker.url, version: 4, stop: () => broker.close() };
    },
  },
];
if (mosquittoMissing === null) {
  brokers.push({
    name: 'mosquitto (MQTT 5, persistence on)',
    start: async (dir) => {
      const broker = await Mosquitto.start(dir);
      return { url: broker.url, version: 5, stop: () => broker.stop() };
    },
  });
} else console.log(`mosquitto skipped: ${mosquittoMissing}`);

for (const entry of brokers) {
  const dir = await mkdtemp(join(tmpdir(), 'fieldloop-bench-fleet-'));
  const broker = await entry.start(dir);
  try {
    const plain = await plainRun(broker.url, broker.version, payloads);
    const fleet = await fleetRun(broker.url, broker.version, samples, dir);
    const storeLoose = await storeRun(samples, join(dir, 'store-alone-loose'), false);
    const storePacked = await storeRun(samples, join(dir, 'store-alone-packed'), true);
    console.log(
      `${entry.name}: plain mqtt.js QoS 1 ${plain.toFixed(0)} msg/s | fieldloop into the collector's durable state ` +
        `${fleet.transport.toFixed(0)} samples/s (ratio ${(fleet.transport / plain).toFixed(2)}) | end to end with store commits ` +
        `${fleet.endToEnd.toFixed(0)} samples/s (ratio ${(fleet.endToEnd / plain).toFixed(2)}, goal >= 0.50) | ` +
        `store alone, one file per blob ${storeLoose.toFixed(0)} samples/s (ratio ${(storeLoose / plain).toFixed(2)}) | ` +
        `store alone, packed ${storePacked.toFixed(0)} samples/s (ratio ${(storePacked / plain).toFixed(2)})`,
    );
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
