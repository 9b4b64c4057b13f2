// Times the collector alone, without MQTT. Encoded 20 KB samples go to the collector's message
// handler 64 per event-loop turn, as one connection delivers them. The collector records them in
// its state, acknowledges them and commits field batches of 500 to a new store.
// Prints the process's CPU time and the bytes it wrote per sample. The robot side, the broker and
// the MQTT parsing are left out, so run-to-run spread is smaller than in the fleet bench.
// Usage: node --import tsx bench/collector-alone.ts [--samples N]
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket } from 'mqtt';
import { FleetCollector } from '../src/fleet/collector.ts';
import { startEmbeddedBroker } from '../src/fleet/embedded-broker.ts';
import { encodeSample } from '../src/fleet/sample-codec.ts';
import { makeBenchSamples } from './fleet-bench-samples.ts';

/** The collector's private message handler, which the bench calls to leave MQTT out. */
interface MessageHandler {
  handle(packet: Pick<IPublishPacket, 'topic' | 'payload'>, acknowledge: (error?: Error) => void): void;
}

const samplesIndex = process.argv.indexOf('--samples');
const count = samplesIndex === -1 ? 10_000 : Number(process.argv[samplesIndex + 1]);
if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`--samples must be a positive integer, got ${process.argv[samplesIndex + 1]}`);

const bootId = 'ab'.repeat(16);
const payloads = makeBenchSamples(count, `collector-alone-${Date.now()}`).map((sample, sequence) =>
  encodeSample({ robot: 'r1', bootId, sequence, record: sample.record, image: sample.image, input: sample.input, extra: null }),
);
const topic = 'fieldloop/bench/robots/r1/samples';

/** Bytes this process has written to storage so far, from `/proc/self/io`. */
function writtenBytes(): number {
  return Number(/^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? Number.NaN);
}

const dir = await mkdtemp(join(tmpdir(), 'fieldloop-bench-collector-'));
// The collector needs a broker to start, though no message goes through it.
const broker = await startEmbeddedBroker();
try {
  const collector = await FleetCollector.start({
    fleet: 'bench',
    broker: { url: broker.url, protocolVersion: 4 },
    storeDir: join(dir, 'store'),
    statePath: join(dir, 'collector.db'),
    commitEvery: 500,
  });
  const handler = collector as unknown as MessageHandler;
  let acknowledged = 0;
  let failure: Error | null = null;
  const acknowledge = (error?: Error): void => {
    if (error) failure ??= error;
    acknowledged += 1;
  };
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  const cpuStart = process.cpuUsage();
  const writtenStart = writtenBytes();
  const start = performance.now();
  for (let index = 0; index < count; index += 64) {
    // mqtt.js hands over a buffer of its own for each message, so the bench copies too.
    for (const payload of payloads.slice(index, index + 64)) handler.handle({ topic, payload: Buffer.from(payload) }, acknowledge);
    await turn();
    // Like a connection with 256 messages in flight, the bench waits for acknowledgements.
    while (acknowledged < index - 256) await turn();
  }
  while (acknowledged < count) await new Promise((resolve) => setTimeout(resolve, 1));
  await collector.close();
  const cpu = process.cpuUsage(cpuStart);
  const written = writtenBytes() - writtenStart;
  if (failure !== null) throw failure;
  const stats = collector.stats();
  console.log(
    `collector alone, ${count} samples of ${(payloads[0]!.length / 1024).toFixed(1)} KiB: CPU per sample ${(cpu.user / count).toFixed(0)} user + ` +
      `${(cpu.system / count).toFixed(0)} system = ${((cpu.user + cpu.system) / count).toFixed(0)} microseconds, wall ${(((performance.now() - start) * 1000) / count).toFixed(0)} ` +
      `microseconds, ${(written / count / 1024).toFixed(1)} KiB written per sample; ${stats.committed} committed in ${stats.batches.length} field batches`,
  );
} finally {
  await broker.close();
  await rm(dir, { recursive: true, force: true });
}
