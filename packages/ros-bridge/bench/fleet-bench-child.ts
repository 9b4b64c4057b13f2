// Child process of bench/fleet-throughput.ts: one bench role in its own Node.js process, driven
// over the IPC channel of child_process.fork. Argument: the JSON of a ChildRole.
// Messages to the parent: {type:'ready', url?}, {type:'sent', sentAt}, {type:'failed', message}.
// Messages from the parent: {type:'go'} starts sending, {type:'stop'} closes and exits.
import { performance } from 'node:perf_hooks';
import { startEmbeddedBroker } from '../src/fleet/embedded-broker.ts';
import type { ChildMessage, ChildRole, ParentMessage } from './fleet-bench-process.ts';
import { prepareSender } from './fleet-bench-sender.ts';

function post(message: ChildMessage): void {
  process.send?.(message);
}

function fail(error: unknown): void {
  post({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
  process.disconnect?.();
}

const role = JSON.parse(process.argv[2] ?? 'null') as ChildRole | null;
if (role === null || process.send === undefined) throw new Error('fleet-bench-child.ts runs only under child_process.fork with a JSON role argument');
// A bench that exits or fails leaves no broker or sender behind.
process.once('disconnect', () => process.exit());

try {
  let close: () => Promise<void>;
  let send: (() => Promise<void>) | null = null;
  if (role.role === 'broker') {
    const broker = await startEmbeddedBroker();
    close = () => broker.close();
    post({ type: 'ready', url: broker.url });
  } else {
    const sender = await prepareSender(role.config);
    close = () => sender.close();
    send = () => sender.send();
    post({ type: 'ready' });
  }
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'go' && send !== null) {
      send().then(() => post({ type: 'sent', sentAt: performance.timeOrigin + performance.now() }), fail);
    } else if (message.type === 'stop') {
      close().then(() => process.disconnect?.(), fail);
    }
  });
} catch (error) {
  fail(error);
}
