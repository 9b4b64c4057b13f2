import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync, appendFileSync, renameSync, statSync, truncateSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '@fieldloop/contracts';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';

const WRITER_SCRIPT = fileURLToPath(new URL('./support/queue-writer-process.ts', import.meta.url));
const message = (text: string) => ({ topic: 't', payload: Buffer.from(text) });
const texts = (queue: OutboundQueue) => queue.peek(0, 1000).map((item) => item.payload.toString());
const segmentFiles = (path: string, suffix: string) => readdirSync(path).filter((name) => name.endsWith(suffix)).sort();

function recordingLogger(): Logger & { warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  return { warnings, debug() {}, info() {}, warn: (fields) => warnings.push(fields), error() {} };
}

/** Creates a queue file with the schema of the SQLite queue that the segment log replaced. */
function writeLegacyQueue(path: string, rows: Array<{ id: number; grp: number; text: string }>, dropped: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, grp INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, enqueued_at INTEGER NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  `);
  db.prepare("INSERT INTO counters VALUES ('dropped', ?), ('group', 100)").run(dropped);
  const insert = db.prepare('INSERT INTO queue (id, grp, topic, payload, enqueued_at) VALUES (?, ?, ?, ?, ?)');
  for (const row of rows) insert.run(row.id, row.grp, `topic/${row.grp}`, Buffer.from(row.text), 1000 + row.id);
  db.close();
}

describe('OutboundQueue recovery', () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-queue-recovery-'));
    path = join(dir, 'queue');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('torn tail drops only the incomplete group', () => {
    const queue = OutboundQueue.open({ path });
    queue.enqueue([message('a')]);
    queue.enqueue([message('b1'), message('b2'), message('b3')]);
    queue.close();
    const [segment] = segmentFiles(path, '.log');
    const file = join(path, segment as string);
    truncateSync(file, statSync(file).size - 1);

    const reopened = OutboundQueue.open({ path });
    expect(texts(reopened)).toEqual(['a']);
    expect(reopened.stats()).toEqual({ items: 1, bytes: 1, dropped: 0 });
    reopened.enqueue([message('c')]);
    reopened.close();
    const again = OutboundQueue.open({ path });
    expect(texts(again)).toEqual(['a', 'c']);
    again.close();
  });

  it('bad CRC at the tail drops the last group', () => {
    const queue = OutboundQueue.open({ path });
    queue.enqueue([message('a')]);
    queue.enqueue([message('b1'), message('b2')]);
    queue.close();
    const file = join(path, segmentFiles(path, '.log')[0] as string);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = 0x58;
    writeFileSync(file, bytes);

    const reopened = OutboundQueue.open({ path });
    expect(texts(reopened)).toEqual(['a']);
    expect(reopened.stats().dropped).toBe(0);
    reopened.close();
  });

  it('corrupt middle record is counted and logged', () => {
    const queue = OutboundQueue.open({ path });
    queue.enqueue([message('aaaa')]);
    queue.enqueue([message('bbbb')]);
    queue.enqueue([message('cccc')]);
    queue.close();
    const file = join(path, segmentFiles(path, '.log')[0] as string);
    const bytes = readFileSync(file);
    const middle = bytes.indexOf('bbbb');
    bytes[middle] = 0x58;
    writeFileSync(file, bytes);

    const log = recordingLogger();
    const reopened = OutboundQueue.open({ path, log });
    expect(texts(reopened)).toEqual(['aaaa', 'cccc']);
    expect(reopened.stats().dropped).toBe(1);
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]?.segment).toBe(file);
    reopened.close();
    const again = OutboundQueue.open({ path, log });
    expect(again.stats().dropped).toBe(1);
    expect(log.warnings).toHaveLength(1);
    again.close();
  });

  it('acks survive reopen and a torn ack tail', () => {
    const queue = OutboundQueue.open({ path });
    queue.enqueueMany([[message('a')], [message('b')], [message('c')], [message('d')]]);
    const ids = queue.peek(0, 10).map((item) => item.id);
    queue.removeMany([ids[0] as number, ids[2] as number]);
    queue.close();
    appendFileSync(join(path, segmentFiles(path, '.ack')[0] as string), Buffer.from([1, 2, 3, 4, 5]));

    const reopened = OutboundQueue.open({ path });
    expect(texts(reopened)).toEqual(['b', 'd']);
    expect(reopened.stats()).toEqual({ items: 2, bytes: 2, dropped: 0 });
    reopened.close();
  });

  it('deletes fully removed segments', () => {
    const queue = OutboundQueue.open({ path, segmentBytes: 100 });
    for (const text of ['a', 'b', 'c', 'd']) queue.enqueue([message(text.repeat(80))]);
    expect(segmentFiles(path, '.log')).toHaveLength(4);
    const ids = queue.peek(0, 10).map((item) => item.id);
    queue.removeMany(ids.slice(0, 3));
    expect(segmentFiles(path, '.log')).toHaveLength(1);
    expect(segmentFiles(path, '.ack')).toHaveLength(0);
    queue.remove(ids[3] as number);
    queue.enqueue([message('e')]);
    expect(segmentFiles(path, '.log')).toHaveLength(1);
    queue.close();
  });

  describe('spare segment file', () => {
    // Records of 80-byte payloads are 129 bytes, so a segment of 300 bytes rolls over after three.
    const long = (text: string) => message(text.repeat(80));
    const spare = () => join(path, 'spare-segment');
    const inode = (file: string) => statSync(file).ino;

    /** Fills two segments with a, b, c and d, x, y, then removes a, b and c, so the first segment's file becomes the spare. */
    function queueWithSpare(log?: Logger): OutboundQueue {
      const queue = OutboundQueue.open({ path, segmentBytes: 300, log });
      for (const text of ['a', 'b', 'c', 'd', 'x', 'y']) queue.enqueue([long(text)]);
      queue.removeMany(queue.peek(0, 3).map((item) => item.id));
      return queue;
    }

    const remaining = ['d', 'x', 'y'].map((text) => text.repeat(80));

    it('reuses a deleted segment file', () => {
      const queue = queueWithSpare();
      expect(segmentFiles(path, '.log')).toHaveLength(1);
      const spareInode = inode(spare());
      queue.enqueue([message('e')]);
      expect(existsSync(spare())).toBe(false);
      const files = segmentFiles(path, '.log');
      expect(files).toHaveLength(2);
      expect(inode(join(path, files[1]!))).toBe(spareInode);
      expect(texts(queue)).toEqual([...remaining, 'e']);
      queue.close();
    });

    it('ignores earlier records on reopen', () => {
      const queue = queueWithSpare();
      // The short record overwrites the start of a, so the file then contains e, the rest of a, b and c.
      queue.enqueue([message('e')]);
      queue.close();

      const log = recordingLogger();
      const reopened = OutboundQueue.open({ path, segmentBytes: 300, log });
      expect(texts(reopened)).toEqual([...remaining, 'e']);
      expect(reopened.stats().dropped).toBe(0);
      expect(log.warnings).toEqual([]);
      // The open cut the earlier records, so the segment ends after e: a 48-byte header, topic t and payload e.
      expect(statSync(join(path, segmentFiles(path, '.log')[1]!)).size).toBe(50);
      // Three more records fill the reused segment and start a new one, so it is no longer the last.
      for (const text of ['f', 'g', 'h']) reopened.enqueue([long(text)]);
      reopened.close();

      const again = OutboundQueue.open({ path, segmentBytes: 300, log });
      expect(texts(again)).toEqual([...remaining, 'e', ...['f', 'g', 'h'].map((text) => text.repeat(80))]);
      expect(again.stats().dropped).toBe(0);
      expect(log.warnings).toEqual([]);
      again.close();
    });

    it('cuts a torn append before earlier records', () => {
      const queue = queueWithSpare();
      queue.enqueue([message('e')]);
      queue.enqueue([message('g1'), message('g2')]);
      queue.close();
      // A crash tore g2, and the intact record of c still follows it.
      const file = join(path, segmentFiles(path, '.log')[1]!);
      const bytes = readFileSync(file);
      bytes[bytes.indexOf('g2') + 1] = 'x'.charCodeAt(0);
      writeFileSync(file, bytes);
      expect(bytes.includes('c'.repeat(80))).toBe(true);

      const log = recordingLogger();
      const reopened = OutboundQueue.open({ path, segmentBytes: 300, log });
      expect(texts(reopened)).toEqual([...remaining, 'e']);
      expect(reopened.stats().dropped).toBe(0);
      expect(log.warnings).toEqual([]);
      reopened.close();
    });
  });

  it('keeps the drop count across reopen', () => {
    const queue = OutboundQueue.open({ path, maxItems: 2, segmentBytes: 60 });
    queue.enqueue([message('a')]);
    queue.enqueue([message('b')]);
    expect(queue.enqueue([message('c')])).toBe(1);
    queue.close();
    const reopened = OutboundQueue.open({ path, maxItems: 2, segmentBytes: 60 });
    expect(reopened.stats().dropped).toBe(1);
    expect(texts(reopened)).toEqual(['b', 'c']);
    // The segment of 'a' is deleted once all its items are gone; its drop moves to state.json.
    expect(reopened.enqueue([message('d')])).toBe(1);
    reopened.close();
    const again = OutboundQueue.open({ path, maxItems: 2 });
    expect(again.stats().dropped).toBe(2);
    expect(texts(again)).toEqual(['c', 'd']);
    again.close();
  });

  it('ids keep increasing across reopen', () => {
    const queue = OutboundQueue.open({ path, segmentBytes: 10 });
    queue.enqueue([message('a')]);
    queue.enqueue([message('b')]);
    const ids = queue.peek(0, 10).map((item) => item.id);
    queue.removeMany(ids);
    queue.enqueue([message('c')]);
    const [last] = queue.peek(0, 10);
    queue.remove(last?.id ?? 0);
    queue.close();
    expect(segmentFiles(path, '.log')).toHaveLength(1);

    const reopened = OutboundQueue.open({ path });
    reopened.enqueue([message('d')]);
    const [next] = reopened.peek(0, 10);
    expect(next?.id).toBeGreaterThan(last?.id ?? Number.POSITIVE_INFINITY);
    reopened.close();
  });

  it('deleting an older segment leaves state.json', () => {
    const queue = OutboundQueue.open({ path, segmentBytes: 100 });
    for (const text of ['a', 'b', 'c']) queue.enqueue([message(text.repeat(80))]);
    const state = () => (existsSync(join(path, 'state.json')) ? readFileSync(join(path, 'state.json'), 'utf8') : null);
    const stateBefore = state();
    const ids = queue.peek(0, 10).map((item) => item.id);
    queue.removeMany(ids.slice(0, 2));
    expect(segmentFiles(path, '.log')).toHaveLength(1);
    // The segments left keep the next id, so the deletions wrote no state.
    expect(state()).toBe(stateBefore);
    queue.close();

    const reopened = OutboundQueue.open({ path });
    reopened.enqueue([message('d')]);
    expect(reopened.peek(0, 10).map((item) => item.id)).toEqual([ids[2], (ids[2] as number) + 1]);
    expect(reopened.stats().dropped).toBe(0);
    reopened.close();
  });

  it('imports a legacy SQLite queue', () => {
    const legacyPath = join(dir, 'queue.db');
    writeLegacyQueue(
      legacyPath,
      [
        { id: 4, grp: 2, text: 'b1' },
        { id: 5, grp: 2, text: 'b2' },
        { id: 7, grp: 3, text: 'c' },
        { id: 9, grp: 5, text: 'e' },
      ],
      3,
    );
    writeFileSync(`${legacyPath}.importing`, 'left by an earlier crash');
    const queue = OutboundQueue.open({ path: legacyPath, maxItems: 4 });
    expect(texts(queue)).toEqual(['b1', 'b2', 'c', 'e']);
    expect(queue.peek(0, 1)[0]?.topic).toBe('topic/2');
    expect(queue.stats()).toEqual({ items: 4, bytes: 6, dropped: 3 });
    expect(statSync(legacyPath).isDirectory()).toBe(true);
    expect(existsSync(`${legacyPath}.legacy`)).toBe(false);
    expect(existsSync(`${legacyPath}-wal`)).toBe(false);
    // Groups survive the import: making room for one item drops both chunks of group 2.
    expect(queue.enqueue([message('f')])).toBe(2);
    queue.close();
  });

  it('leaves a legacy queue alone while another process opens it', async () => {
    const legacyPath = join(dir, 'queue.db');
    writeLegacyQueue(legacyPath, [{ id: 1, grp: 1, text: 'legacy' }], 0);
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(`${legacyPath}.open-lock`, JSON.stringify({ pid: other.pid, hostname: hostname() }));
      expect(() => OutboundQueue.open({ path: legacyPath })).toThrow(/locked by process/);
      expect(statSync(legacyPath).isFile()).toBe(true);
      expect(existsSync(`${legacyPath}.importing`)).toBe(false);
    } finally {
      other.kill();
      await new Promise((resolve) => other.once('exit', resolve));
    }
    const queue = OutboundQueue.open({ path: legacyPath });
    expect(texts(queue)).toEqual(['legacy']);
    queue.close();
    expect(existsSync(`${legacyPath}.open-lock`)).toBe(false);
  });

  it('finishes an interrupted import once', () => {
    const legacyPath = join(dir, 'queue.db');
    const imported = OutboundQueue.open({ path: join(dir, 'built') });
    imported.enqueue([message('imported')]);
    imported.close();
    // The state after a crash between moving the legacy file aside and moving the import in.
    renameSync(join(dir, 'built'), `${legacyPath}.importing`);
    writeLegacyQueue(`${legacyPath}.legacy`, [{ id: 1, grp: 1, text: 'legacy' }], 0);

    const queue = OutboundQueue.open({ path: legacyPath });
    expect(texts(queue)).toEqual(['imported']);
    expect(existsSync(`${legacyPath}.legacy`)).toBe(false);
    queue.close();
  });

  it('reads evicted payloads from disk', () => {
    const queue = OutboundQueue.open({ path, cacheBytes: 0, segmentBytes: 100 });
    queue.enqueue([message('a'.repeat(90))]);
    queue.enqueue([message('b'.repeat(90)), message('c')]);
    expect(texts(queue)).toEqual(['a'.repeat(90), 'b'.repeat(90), 'c']);
    expect(queue.peek(1, 1)[0]?.payload.toString()).toBe('b'.repeat(90));
    queue.close();
  });

  it('removes an orphaned ack file', () => {
    const queue = OutboundQueue.open({ path });
    queue.enqueue([message('a')]);
    queue.close();
    writeFileSync(join(path, '0000000000000000.ack'), 'left by a crash');
    OutboundQueue.open({ path }).close();
    expect(existsSync(join(path, '0000000000000000.ack'))).toBe(false);
  });

  // root ignores file modes, so this test only runs as another user.
  it.skipIf(process.getuid?.() === 0)('rejects a directory without write access', () => {
    const queue = OutboundQueue.open({ path });
    queue.close();
    chmodSync(path, 0o500);
    try {
      expect(() => OutboundQueue.open({ path })).toThrow(/lock file .* failed: .*Check that the directory is writable/);
    } finally {
      chmodSync(path, 0o700);
    }
  });

  it('rejects a path below a file', () => {
    writeFileSync(join(dir, 'plain-file'), 'not a directory');
    expect(() => OutboundQueue.open({ path: join(dir, 'plain-file', 'queue') })).toThrow(/opening the outbound queue .*plain-file.* failed/);
  });

  it('rejects a second open', () => {
    const queue = OutboundQueue.open({ path });
    expect(() => OutboundQueue.open({ path })).toThrow(/is locked by process/);
    queue.close();
    OutboundQueue.open({ path }).close();
  });

  it('takes over the lock of a process that ended', () => {
    OutboundQueue.open({ path }).close();
    // Linux gives out pids below 2^22, so this one names no running process.
    writeFileSync(join(path, 'lock'), `${JSON.stringify({ pid: 2 ** 22 + 1, hostname: hostname(), acquiredAt: '' })}\n`);
    const queue = OutboundQueue.open({ path });
    expect(JSON.parse(readFileSync(join(path, 'lock'), 'utf8')).pid).toBe(process.pid);
    queue.close();
  });

  it('names an invalid lock file', () => {
    OutboundQueue.open({ path }).close();
    writeFileSync(join(path, 'lock'), 'garbage');
    expect(() => OutboundQueue.open({ path })).toThrow(/invalid lock file .*lock of outbound queue .*: expected JSON with pid and hostname, found "garbage"\. Delete it if no process uses the queue/);
  });

  it('SIGKILL loses no returned group', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER_SCRIPT, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stderr.on('data', (data: Buffer) => (errors += data.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (data: Buffer) => {
        output += data.toString();
        if (output.includes('queued 60\n')) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', () => reject(new Error(`queue writer exited early: ${errors}`)));
    });
    await exited;
    const returned = [...output.matchAll(/queued (\d+)\n/g)].map((match) => Number(match[1]));

    const queue = OutboundQueue.open({ path });
    const topics = queue.peek(0, 100_000).map((item) => item.topic);
    for (const sample of returned) {
      expect(topics).toContain(`sample/${sample}/0`);
      expect(topics).toContain(`sample/${sample}/2`);
    }
    expect(topics.length % 3).toBe(0);
    expect(segmentFiles(path, '.log').length).toBeGreaterThan(1);
    queue.close();
  });
});
