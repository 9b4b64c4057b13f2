// Enqueues samples of three messages each into an outbound queue until killed, run as
// `node --import tsx queue-writer-process.ts QUEUE`. It prints `queued N` after each enqueue of
// sample N has returned.
import { OutboundQueue } from '../../../src/fleet/outbound-queue.ts';

const [queuePath] = process.argv.slice(2);
if (!queuePath) throw new Error('usage: queue-writer-process.ts QUEUE');
const queue = OutboundQueue.open({ path: queuePath, segmentBytes: 256 * 1024 });
const payload = Buffer.alloc(20 * 1024, 7);
for (let sample = 0; ; sample += 1) {
  const messages = [0, 1, 2].map((chunk) => ({ topic: `sample/${sample}/${chunk}`, payload }));
  queue.enqueueMany([messages]);
  process.stdout.write(`queued ${sample}\n`);
  if (sample % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
}
