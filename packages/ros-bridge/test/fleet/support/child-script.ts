import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROBOT_SCRIPT = fileURLToPath(new URL('./robot-process.ts', import.meta.url));
export const COLLECTOR_SCRIPT = fileURLToPath(new URL('./collector-process.ts', import.meta.url));

/** Runs a support script; resolves with the child once its stdout contains `marker`. */
export function runScript(script: string, args: string[], marker: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      if (output.includes(marker)) resolve(child);
    });
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    child.once('exit', (code) => {
      if (!output.includes(marker)) reject(new Error(`${script} exited with code ${code} before printing "${marker}": ${output}`));
    });
  });
}

/** Sends SIGKILL to a support script and waits for its exit. */
export async function killScript(child: ReturnType<typeof spawn>): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
