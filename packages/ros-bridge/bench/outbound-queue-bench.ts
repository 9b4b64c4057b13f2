// Times the outbound queue alone: payloads of 20 KiB (1000 by default) enqueued 64 per enqueueMany
// call (as MqttUplink commits them), each batch peeked 64 at a time and removed 16 ids per
// removeMany call. Prints wall time per operation and the process's CPU time for each of three
// rounds. With more than about 1600 payloads the queue rolls over several 16 MiB segments, so the
// rounds include reused segment files.
// Usage: node --import tsx bench/outbound-queue-bench.ts [--sync full|normal] [--payloads N]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OutboundQueue, type QueuedMessage, type QueueSynchronous } from '../src/fleet/outbound-queue.ts';

const syncIndex = process.argv.indexOf('--sync');
const synchronous = (syncIndex === -1 ? 'full' : process.argv[syncIndex + 1]) as QueueSynchronous;
const payloadsIndex = process.argv.indexOf('--payloads');
const count = payloadsIndex === -1 ? 1000 : Number(process.argv[payloadsIndex + 1]);
if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`--payloads must be a positive integer, got ${process.argv[payloadsIndex + 1]}`);
// The payloads repeat after 256, which keeps the bench's own memory small for large counts.
const distinct = Array.from({ length: Math.min(count, 256) }, () => randomBytes(20 * 1024));
const payloads = Array.from({ length: count }, (_, index) => distinct[index % distinct.length] as Buffer);

for (let round = 0; round < 3; round += 1) {
  const dir = mkdtempSync(join(tmpdir(), 'fieldloop-queue-bench-'));
  const queue = OutboundQueue.open({ path: join(dir, 'queue'), synchronous });
  const cpuStart = process.cpuUsage();
  const wall = { enqueueMany: 0, peek: 0, removeMany: 0 };
  let lastId = 0;
  for (let start = 0; start < payloads.length; start += 64) {
    let mark = performance.now();
    queue.enqueueMany(payloads.slice(start, start + 64).map((payload) => [{ topic: 'fleet/bench/samples/robot', payload }]));
    wall.enqueueMany += performance.now() - mark;

    mark = performance.now();
    const items: QueuedMessage[] = [];
    for (let batch = queue.peek(lastId, 64); batch.length > 0; batch = queue.peek(lastId, 64)) {
      items.push(...batch);
      lastId = (batch[batch.length - 1] as QueuedMessage).id;
    }
    wall.peek += performance.now() - mark;

    mark = performance.now();
    for (let index = 0; index < items.length; index += 16) queue.removeMany(items.slice(index, index + 16).map((item) => item.id));
    wall.removeMany += performance.now() - mark;
  }
  const cpu = process.cpuUsage(cpuStart);
  queue.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `round ${round}, synchronous ${synchronous}: enqueueMany ${wall.enqueueMany.toFixed(0)} ms, peek ${wall.peek.toFixed(0)} ms, ` +
      `removeMany ${wall.removeMany.toFixed(0)} ms per ${count} payloads of 20 KiB; CPU user+system ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms ` +
      `(${((cpu.user + cpu.system) / count).toFixed(1)} microseconds per payload)`,
  );
}
