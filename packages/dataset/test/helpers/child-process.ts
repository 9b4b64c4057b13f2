import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD_SCRIPT = fileURLToPath(new URL('./ingest-child.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningChild {
  child: ChildProcess;
  /** Resolves when the child prints `ready`, rejects when it exits before. */
  ready: Promise<void>;
  /** Resolves with the exit code and signal once the child has exited and been reaped. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

/** Starts ingest-child.ts under tsx with the given arguments. */
export function startChild(args: string[]): RunningChild {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, ...args], {
    cwd: PACKAGE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', () => {
      if (output.includes('ready\n')) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`Child exited (code ${code}, signal ${signal}) before ready: ${output}`)));
  });
  return { child, ready, exited, output: () => output };
}

/** Kills the children that still run and waits until each has exited. Empties the list. */
export async function stopChildren(children: RunningChild[]): Promise<void> {
  for (const running of children.splice(0)) {
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    await running.exited;
  }
}
