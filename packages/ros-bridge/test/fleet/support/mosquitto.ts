import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';

export const MOSQUITTO_BIN = '/usr/sbin/mosquitto';

/** Null when mosquitto is installed, otherwise the reason to skip. */
export const mosquittoMissing: string | null = existsSync(MOSQUITTO_BIN)
  ? null
  : `${MOSQUITTO_BIN} not found: install Debian's mosquitto package to run the mosquitto tests`;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForPort(port: number, timeoutMs: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with code ${child.exitCode} before listening on port ${port}: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A mosquitto process with its own config in `dir`: one loopback listener, persistence in `dir`. */
export class Mosquitto {
  private process: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly configPath: string,
  ) {}

  /** Writes the config and starts mosquitto; `extra` lines are appended to the config. */
  static async start(dir: string, extra: string[] = []): Promise<Mosquitto> {
    const port = await freePort();
    const configPath = join(dir, 'mosquitto.conf');
    const lines = [
      `listener ${port} 127.0.0.1`,
      // Started as root, mosquitto switches to this user; the temp dir belongs to the current one.
      `user ${userInfo().username}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'autosave_interval 1',
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...(extra.some((line) => line.startsWith('password_file')) ? [] : ['allow_anonymous true']),
      ...extra,
    ];
    await writeFile(configPath, `${lines.join('\n')}\n`);
    const broker = new Mosquitto(dir, port, configPath);
    await broker.launch();
    return broker;
  }

  /** Process id of the running broker, or null before it started and after it stopped. */
  get pid(): number | null {
    return this.process?.pid ?? null;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get log(): string {
    return this.output;
  }

  async launch(): Promise<void> {
    const child = spawn(MOSQUITTO_BIN, ['-c', this.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (data: Buffer) => (this.output += data.toString()));
    child.stderr?.on('data', (data: Buffer) => (this.output += data.toString()));
    this.process = child;
    await waitForPort(this.port, 10_000, child, () => this.output);
  }

  /** Stops mosquitto with SIGTERM, which writes its persistence file, and waits for the exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    this.process = null;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }
}
