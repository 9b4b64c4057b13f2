import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'fieldloop.js');

function fieldloop(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('fieldloop tool', () => {
  it('lists ingest in its help', () => {
    const result = fieldloop('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/ingest/);
    expect(result.stdout).toMatch(/--json/);
  });

  it('says what each ingest option sets', () => {
    const result = fieldloop('ingest', '--help');
    expect(result.status).toBe(0);
    for (const flag of ['--store <dir>', '--mapping <file>', '--allow-partial', '--msg-path <dir>', '--note <text>']) {
      expect(result.stdout).toContain(flag);
    }
  });

  it('ingests a folder and prints a JSON summary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-cli-'));
    const images = join(dir, 'frames');
    await import('node:fs/promises').then((fs) => fs.mkdir(images));
    for (const [name, value] of [['a.png', 10], ['b.png', 200]] as const) {
      const png = await sharp(new Uint8Array(4 * 4 * 3).fill(value), { raw: { width: 4, height: 4, channels: 3 } }).png().toBuffer();
      await writeFile(join(images, name), png);
    }
    await writeFile(join(images, 'data.txt'), 'a.png 1\nb.png 2\n');
    await writeFile(join(dir, 'mapping.yaml'), 'folder: {}\nimage: { width: 4, height: 4 }\nlabels:\n  level:\n    column: value\n');
    const result = fieldloop('--json', 'ingest', images, '--mapping', join(dir, 'mapping.yaml'), '--store', join(dir, 'store'));
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout) as { snapshot: { version: number; stats: { samples: number } }; problems: string[] };
    expect(summary.problems).toEqual([]);
    expect(summary.snapshot.version).toBe(1);
    expect(summary.snapshot.stats.samples).toBe(2);

    const listed = fieldloop('snapshots', '--store', join(dir, 'store'));
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/: 1 snapshot\n {2}v1 .* 2 samples \(train \d, val \d, test \d\), 2 new/);
    const shownLatest = fieldloop('snapshots', '--store', join(dir, 'store'), '--show', 'latest');
    expect(shownLatest.status).toBe(0);
    expect(shownLatest.stdout).toMatch(/label level: 2 samples, 2 distinct values/);
    const missing = fieldloop('--json', 'snapshots', '--store', join(dir, 'store'), '--show', '7');
    expect(missing.status).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual(expect.objectContaining({ error: expect.stringMatching(/its versions are 1 to 1/) }));
    await rm(dir, { recursive: true, force: true });
  });

  it('fails with the reason for a missing mapping file', () => {
    const result = fieldloop('--json', 'ingest', tmpdir(), '--mapping', '/nonexistent/mapping.yaml');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({ error: expect.stringMatching(/mapping \/nonexistent\/mapping\.yaml cannot be read/), type: 'MappingError' });
    const logged = JSON.parse(result.stderr.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(logged).toMatchObject({ command: 'ingest', type: 'MappingError', msg: expect.stringMatching(/mapping \/nonexistent/) });
    expect(logged).not.toHaveProperty('error');
  });

  it('names a missing ingest input', () => {
    const result = fieldloop('--json', 'ingest', '/nonexistent/drive.mcap');
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({ error: expect.stringMatching(/ingest input not found: \/nonexistent\/drive\.mcap; pass existing recording files/) });
  });

  it('rejects an ingest store without a mapping', () => {
    const result = fieldloop('--json', 'ingest', tmpdir(), '--store', join(tmpdir(), 'fieldloop-unused-store'));
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({ error: expect.stringMatching(/--store .* needs --mapping FILE/) });
  });

  it('names a missing evaluate model', () => {
    const result = fieldloop('--json', 'evaluate', '--model', '/nonexistent/bundle', '--store', tmpdir());
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({ error: expect.stringMatching(/--model \/nonexistent\/bundle not found; pass a bundle directory/) });
  });

  it('rejects a file as the loop project directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-cli-out-'));
    try {
      const file = join(dir, 'not-a-directory');
      await writeFile(file, 'kept');
      const result = fieldloop('--json', 'loop', '--out', file);
      expect(result.status).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ error: `--out ${file} is a file, or lies below one, so it cannot be the project directory; choose another path` });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says how to continue after SIGINT', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-cli-sigint-'));
    try {
      const child = spawn(process.execPath, [BIN, 'loop', '--out', join(dir, 'project')], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // The first log line means the loop is running, past the command-line parsing.
      await new Promise<void>((resolve) => {
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          resolve();
        });
      });
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toContain('interrupted by SIGINT; what was committed before is kept');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects an unknown option', () => {
    const result = fieldloop('ingest', '--frobnicate');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/unknown option/);
  });
});
