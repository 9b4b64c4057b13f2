import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { SenderConfig } from './fleet-bench-sender.ts';

const CHILD_SCRIPT = fileURLToPath(new URL('./fleet-bench-child.ts', import.meta.url));

/** Role of a bench child process: the aedes broker, or one sending side. */
export type ChildRole = { role: 'broker' } | { role: 'sender'; config: SenderConfig };
/** `sentAt`: when the broker acknowledged the sender's last message, as `performance.timeOrigin + performance.now()`. */
export type ChildMessage = { type: 'ready'; url?: string } | { type: 'sent'; sentAt: number } | { type: 'failed'; message: string };
export type ParentMessage = { type: 'go' } | { type: 'stop' };

/** A bench child process that printed `ready`. */
export interface BenchChild {
  /** The broker's URL, for the broker role. */
  url: string | null;
  /** Process id, or null for a role that runs in the bench process. */
  pid: number | null;
  /**
   * Tells a sender to publish every sample. Resolves once the broker acknowledged all of them, to
   * the time of the last acknowledgement in `performance.now()` of this process, which does not
   * depend on how soon this process reads the child's message.
   */
  go(): Promise<number>;
  /** Closes the role's connections and waits for the process to exit. */
  stop(): Promise<void>;
}

/** Extra Node options for every child, such as `--cpu-prof --cpu-prof-dir=DIR`, from `FLEET_BENCH_CHILD_NODE_OPTIONS`; Node refuses profiling options in NODE_OPTIONS. */
const CHILD_NODE_OPTIONS = (process.env.FLEET_BENCH_CHILD_NODE_OPTIONS ?? '').split(' ').filter((option) => option !== '');

/** Forks `fleet-bench-child.ts` for one role and resolves once it is connected and ready. */
export function startBenchChild(role: ChildRole): Promise<BenchChild> {
  const execArgv = ['--import', 'tsx', ...CHILD_NODE_OPTIONS];
  const child: ChildProcess = fork(CHILD_SCRIPT, [JSON.stringify(role)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let onSent: { resolve: (sentAt: number) => void; reject: (error: Error) => void } | null = null;
  let stopping = false;
  return new Promise<BenchChild>((resolve, reject) => {
    const failed = (message: string): void => {
      const error = new Error(`bench child ${role.role === 'broker' ? 'broker' : role.config.kind} failed: ${message}`);
      if (onSent) onSent.reject(error);
      else reject(error);
    };
    child.once('exit', (code) => {
      if (!stopping) failed(`exited with code ${code}`);
    });
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'failed') failed(message.message);
      else if (message.type === 'sent') onSent?.resolve(message.sentAt - performance.timeOrigin);
      else if (message.type === 'ready') {
        resolve({
          url: message.url ?? null,
          pid: child.pid ?? null,
          go: () =>
            new Promise<number>((resolveSent, rejectSent) => {
              onSent = { resolve: resolveSent, reject: rejectSent };
              child.send({ type: 'go' } satisfies ParentMessage);
            }),
          stop: async () => {
            stopping = true;
            if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
            const code = await exited;
            if (code !== 0) throw new Error(`bench child ${role.role} exited with code ${code} while stopping`);
          },
        });
      }
    });
  });
}
