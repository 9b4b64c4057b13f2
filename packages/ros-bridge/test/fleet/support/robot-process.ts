// A robot-side process for the SIGKILL test, run as `node --import tsx robot-process.ts MODE QUEUE URL COUNT`.
// `fill` queues COUNT samples, prints `queued COUNT` and waits to be killed; `drain` sends what
// the queue holds, prints `drained` and exits.
import { MqttUplink } from '../../../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../../../src/fleet/outbound-queue.ts';
import { makeSample } from './field-samples.ts';

const [mode, queuePath, url, countText] = process.argv.slice(2);
if (!mode || !queuePath || !url || !countText) throw new Error('usage: robot-process.ts fill|drain QUEUE URL COUNT');
const queue = OutboundQueue.open({ path: queuePath });
const uplink = new MqttUplink({ fleet: 'test-fleet', robot: 'rover-1', broker: { url, protocolVersion: 4, reconnectPeriodMs: 100 }, queue, maxMessagesPerSecond: 5000 });
if (mode === 'fill') {
  const count = Number(countText);
  for (let i = 0; i < count; i += 1) {
    const sample = makeSample(`killed${i}`);
    await uplink.add(sample.record, sample.blobs);
  }
  process.stdout.write(`queued ${count}\n`);
  setInterval(() => {}, 1000);
} else {
  await uplink.drain(30_000);
  await uplink.close();
  queue.close();
  process.stdout.write('drained\n');
}
