// End-to-end fleet throughput for 20 KB samples (durable queue, MQTT QoS 1, collector, data set
// store) next to plain mqtt.js QoS 1 publish and subscribe of the same encoded samples through the
// same broker, in one run. Brokers: aedes, and mosquitto when /usr/sbin/mosquitto exists.
// The default arrangement is that of separate machines. The robot side (outbound queue and uplink)
// and the plain publisher each run in a child process, and aedes runs in a child process of its own.
// The collector and the plain subscriber run in this process. `--in-process` runs everything but
// mosquitto on this one thread instead.
// It also times the data set store alone on the same samples, once with one file per blob (the
// store's default) and once with pack files (what the collector uses).
// `--no-store-alone` skips the store-alone runs, so that a CPU profile of the bench process shows the collector alone.
// Usage: npx nx run ros-bridge:bench-fleet [-- --samples N] [--in-process] [--sync full|normal] [--no-store-fsync] [--in-flight N] [--connections N]
//   [--no-store-alone] [--broker aedes|mosquitto]
// FLEET_BENCH_CHILD_NODE_OPTIONS passes Node options to the child processes, for example
// `--cpu-prof --cpu-prof-dir=DIR` to profile the robot side and aedes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { DatasetStore } from '@fieldloop/dataset';
import mqtt from 'mqtt';
import { FleetCollector } from '../src/fleet/collector.ts';
import { startEmbeddedBroker } from '../src/fleet/embedded-broker.ts';
import { Mosquitto, mosquittoMissing } from '../test/fleet/support/mosquitto.ts';
import { startBenchChild, type BenchChild } from './fleet-bench-process.ts';
import { processCpuMs } from './process-cpu.ts';
import { makeBenchSamples, plainPayloads, type BenchSample } from './fleet-bench-samples.ts';
import { BENCH_FLEET, PLAIN_TOPIC, prepareSender, type SenderConfig } from './fleet-bench-sender.ts';

function option(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

const count = Number(option('--samples') ?? 1000);
const synchronous = (option('--sync') ?? 'full') as 'full' | 'normal';
const storeFsync = !process.argv.includes('--no-store-fsync');
const inProcess = process.argv.includes('--in-process');
const storeAlone = !process.argv.includes('--no-store-alone');
const maxInFlight = Number(option('--in-flight') ?? 64);
const connectionsText = option('--connections');
const connections = connectionsText === undefined ? undefined : Number(connectionsText);
const seed = randomBytes(8).toString('hex');

/** Starts one sending side: in a child process by default, or in this process with `--in-process`. */
async function startSender(config: SenderConfig): Promise<BenchChild> {
  if (!inProcess) return startBenchChild({ role: 'sender', config });
  const sender = await prepareSender(config);
  return { url: null, pid: null, go: () => sender.send().then(() => performance.now()), stop: () => sender.close() };
}

/** CPU time of the processes of one run in ms, or NaN for a process that is not a separate one. */
interface RunCpu {
  sender: number;
  broker: number;
  /** The bench process: the plain subscriber, or the collector. */
  receiver: number;
}

/** Starts measuring the CPU time of the sender, the broker and this process. The result covers the time until the returned function is called. */
function measureCpu(senderPid: number | null, brokerPid: number | null): () => RunCpu {
  const sender = processCpuMs(senderPid);
  const broker = processCpuMs(brokerPid);
  const receiver = process.cpuUsage();
  return () => {
    const own = process.cpuUsage(receiver);
    return { sender: processCpuMs(senderPid) - sender, broker: processCpuMs(brokerPid) - broker, receiver: (own.user + own.system) / 1000 };
  };
}

async function plainRun(url: string, version: 4 | 5, dir: string, brokerPid: number | null): Promise<{ rate: number; cpu: RunCpu }> {
  const subscriber = await mqtt.connectAsync(url, { protocolVersion: version });
  await subscriber.subscribeAsync(PLAIN_TOPIC, { qos: 1 });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    subscriber.on('message', () => {
      received += 1;
      if (received === count) resolve();
    });
  });
  const publisher = await startSender({ kind: 'plain', url, protocolVersion: version, samples: count, seed, dir, synchronous, maxInFlight });
  const stopCpu = measureCpu(publisher.pid, brokerPid);
  const start = performance.now();
  // The run ends when the subscriber has every message and the publisher every PUBACK.
  const [sentAt, receivedAt] = await Promise.all([publisher.go(), done.then(() => performance.now())]);
  const seconds = (Math.max(sentAt, receivedAt) - start) / 1000;
  const cpu = stopCpu();
  await publisher.stop();
  await subscriber.endAsync();
  return { rate: count / seconds, cpu };
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

/** Milliseconds from the start of a fleet run to the end of each of its phases, and the rates they give. */
interface FleetResult {
  transport: number;
  endToEnd: number;
  /** The broker acknowledged the robot's last message, so its queue is empty. */
  robotDoneMs: number;
  /** The collector counted the last sample as durable in its state and sent its PUBACK. */
  acknowledgedMs: number;
  /** The collector's last field batch is committed to the store. */
  committedMs: number;
  /** CPU time of the robot, the broker and this process, all threads, from the start of the run to the last commit. */
  cpu: RunCpu;
  /** Event-loop delay of this process's main thread during the run: how long messages and PUBACKs waited behind other work. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

async function fleetRun(url: string, version: 4 | 5, dir: string, brokerPid: number | null): Promise<FleetResult> {
  const collector = await FleetCollector.start({
    fleet: BENCH_FLEET,
    broker: { url, protocolVersion: version },
    storeDir: join(dir, 'store'),
    statePath: join(dir, 'collector.db'),
    clientId: `bench-${randomBytes(4).toString('hex')}`,
    commitEvery: 500,
    // MQTT 3.1.1 has no shared subscriptions, so aedes gets one connection.
    connections: version === 5 ? connections : 1,
    synchronous,
    storeFsync,
    ...(process.env.CACHE_BYTES ? { payloadCacheBytes: Number(process.env.CACHE_BYTES) } : {}),
  });
  const robot = await startSender({ kind: 'robot', url, protocolVersion: version, samples: count, seed, dir, synchronous, maxInFlight });
  const start = performance.now();
  const stopCpu = measureCpu(robot.pid, brokerPid);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const sent = robot.go();
  while (collector.stats().accepted < count) await new Promise((resolve) => setTimeout(resolve, 1));
  const acknowledged = performance.now();
  await collector.close();
  const committed = performance.now();
  const cpu = stopCpu();
  loopDelay.disable();
  const robotDone = await sent;
  await robot.stop();
  return {
    transport: count / ((acknowledged - start) / 1000),
    endToEnd: count / ((committed - start) / 1000),
    robotDoneMs: robotDone - start,
    acknowledgedMs: acknowledged - start,
    committedMs: committed - start,
    cpu,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
  };
}

interface RunningBroker {
  url: string;
  version: 4 | 5;
  /** Process id of a broker in its own process, or null for one in the bench process. */
  pid: number | null;
  stop: () => Promise<void>;
}

async function startAedes(): Promise<RunningBroker> {
  if (inProcess) {
    const broker = await startEmbeddedBroker();
    return { url: broker.url, version: 4, pid: null, stop: () => broker.close() };
  }
  const child = await startBenchChild({ role: 'broker' });
  if (child.url === null) throw new Error('the bench broker process reported no URL');
  return { url: child.url, version: 4, pid: child.pid, stop: () => child.stop() };
}

/** Formats the CPU time per message of each process of both runs, and the ratio of the totals. */
function cpuPerMessage(plain: RunCpu, fleet: RunCpu): string {
  const perMessage = (ms: number): string => (Number.isNaN(ms) ? 'n/a' : ((ms * 1000) / count).toFixed(0));
  const total = (cpu: RunCpu): number => cpu.sender + cpu.broker + cpu.receiver;
  return (
    `CPU per message in microseconds: plain publisher ${perMessage(plain.sender)} + broker ${perMessage(plain.broker)} + subscriber ` +
    `${perMessage(plain.receiver)} = ${perMessage(total(plain))}; fieldloop robot ${perMessage(fleet.sender)} + broker ` +
    `${perMessage(fleet.broker)} + collector ${perMessage(fleet.receiver)} = ${perMessage(total(fleet))} ` +
    `(plain total / fieldloop total ${(total(plain) / total(fleet)).toFixed(2)})`
  );
}

const samples = makeBenchSamples(count, seed);
const payloadBytes = plainPayloads(samples.slice(0, 1))[0]!.length;
console.log(
  `${count} samples of ${(payloadBytes / 1024).toFixed(1)} KiB per MQTT message; ` +
    (inProcess
      ? 'arrangement: robot side, plain publisher, aedes, collector and plain subscriber all in the bench process (--in-process); '
      : 'arrangement: robot side and plain publisher each in a child process, aedes in its own process, collector and plain subscriber in the bench process; ') +
    `queue and collector state with SQLite synchronous=${synchronous.toUpperCase()}, store fsync ${storeFsync ? 'on' : 'off'}, ` +
    `collector connections on MQTT 5 ${connections ?? 'default'}`,
);

const brokers: Array<{ name: string; start: (dir: string) => Promise<RunningBroker> }> = [
  { name: `aedes (${inProcess ? 'in-process' : 'own process'}, MQTT 3.1.1)`, start: () => startAedes() },
];
if (mosquittoMissing === null) {
  brokers.push({
    name: 'mosquitto (own process, MQTT 5, persistence on)',
    start: async (dir) => {
      const broker = await Mosquitto.start(dir);
      return { url: broker.url, version: 5, pid: broker.pid, stop: () => broker.stop() };
    },
  });
} else console.log(`mosquitto skipped: ${mosquittoMissing}`);

const only = option('--broker');
if (only !== undefined && !brokers.some((entry) => entry.name.startsWith(only))) {
  throw new Error(`--broker ${only} matches none of the brokers this bench can run: ${brokers.map((entry) => entry.name.split(' ')[0]).join(', ')}`);
}

for (const entry of brokers.filter((candidate) => only === undefined || candidate.name.startsWith(only))) {
  const dir = await mkdtemp(join(tmpdir(), 'fieldloop-bench-fleet-'));
  const broker = await entry.start(dir);
  try {
    const plainResult = await plainRun(broker.url, broker.version, dir, broker.pid);
    const plain = plainResult.rate;
    const fleet = await fleetRun(broker.url, broker.version, dir, broker.pid);
    let storeAloneText = '';
    if (storeAlone) {
      const storeLoose = await storeRun(samples, join(dir, 'store-alone-loose'), false);
      const storePacked = await storeRun(samples, join(dir, 'store-alone-packed'), true);
      storeAloneText =
        ` | store alone, one file per blob ${storeLoose.toFixed(0)} samples/s (ratio ${(storeLoose / plain).toFixed(2)}) | ` +
        `store alone, packed ${storePacked.toFixed(0)} samples/s (ratio ${(storePacked / plain).toFixed(2)})`;
    }
    console.log(
      `${entry.name}: plain mqtt.js QoS 1 ${plain.toFixed(0)} msg/s | fieldloop into the collector's durable state ` +
        `${fleet.transport.toFixed(0)} samples/s (ratio ${(fleet.transport / plain).toFixed(2)}) | end to end with store commits ` +
        `${fleet.endToEnd.toFixed(0)} samples/s (ratio ${(fleet.endToEnd / plain).toFixed(2)}, goal >= 0.50)${storeAloneText}`,
    );
    console.log(
      `  fleet run phases: robot queue empty after ${fleet.robotDoneMs.toFixed(0)} ms, last PUBACK of the collector after ` +
        `${fleet.acknowledgedMs.toFixed(0)} ms, last field batch committed after ${fleet.committedMs.toFixed(0)} ms; plain run ${((count / plain) * 1000).toFixed(0)} ms; ` +
        `${inProcess ? 'bench process' : 'collector process'} CPU ${fleet.cpu.receiver.toFixed(0)} ms; ` +
        `main-thread event-loop delay p99 ${fleet.loopDelayP99Ms.toFixed(1)} ms, max ${fleet.loopDelayMaxMs.toFixed(1)} ms`,
    );
    if (!inProcess) console.log(`  ${cpuPerMessage(plainResult.cpu, fleet.cpu)}`);
  } finally {
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
