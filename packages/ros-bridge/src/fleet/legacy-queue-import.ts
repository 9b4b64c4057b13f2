import { closeSync, fdatasyncSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '@fieldloop/contracts';
import Database from 'better-sqlite3';
import { SEGMENT_SUFFIX, segmentName, syncDirectory, writeState } from './queue-files.ts';
import { encodeRecordHeader } from './queue-record.ts';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

interface LegacyRow {
  grp: number;
  topic: string;
  payload: Buffer;
  enqueued_at: number;
}

/**
 * Makes sure a queue directory exists at `path`. A legacy SQLite queue file at `path` is
 * imported first: its rows go into a new directory `<path>.importing`, which is synced, then the
 * file moves to `<path>.legacy`, the directory moves to `path`, and the legacy file is deleted.
 * Each step is finished by the next `open` after a crash, so nothing is lost or imported twice.
 * The caller holds the lock file beside `path`, so two processes never import at once.
 * NOTE: a process of an earlier fieldloop version that still has the legacy file open takes no
 * such lock and is not detected.
 */
export function prepareQueueDirectory(path: string, log: Logger): void {
  const importing = `${path}.importing`;
  const legacy = `${path}.legacy`;
  const kind = kindOf(path);
  if (kind === 'missing' && existsSync(legacy)) {
    // A crash after the legacy file moved aside: the import directory is complete and synced.
    if (existsSync(importing)) finishImport(path, log);
    else renameSync(legacy, path);
  }
  const current = kindOf(path);
  if (current === 'sqlite') {
    importLegacyQueue(path, log);
    return;
  }
  if (current === 'missing') {
    mkdirSync(path);
    return;
  }
  if (current === 'file') {
    throw new Error(`${path} is a file but neither a queue directory nor a SQLite queue; move it away or choose another path`);
  }
  if (existsSync(legacy)) removeLegacy(path);
}

function kindOf(path: string): 'missing' | 'directory' | 'sqlite' | 'file' {
  let stats;
  try {
    stats = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  if (stats.isDirectory()) return 'directory';
  const header = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  return header.equals(SQLITE_HEADER) ? 'sqlite' : 'file';
}

/** Copies the rows of a legacy SQLite queue, in id order and with their groups, into a new queue directory. */
function importLegacyQueue(path: string, log: Logger): void {
  const importing = `${path}.importing`;
  rmSync(importing, { recursive: true, force: true });
  const { rows, dropped } = readLegacyQueue(path);
  mkdirSync(importing);
  if (rows.length > 0) {
    const fd = openSync(join(importing, `${segmentName(1)}${SEGMENT_SUFFIX}`), 'wx');
    try {
      const buffer = encodeLegacyRows(rows);
      let written = 0;
      while (written < buffer.length) written += writeSync(fd, buffer, written, buffer.length - written);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  writeState(importing, { nextId: rows.length + 1, dropped });

  renameSync(path, `${path}.legacy`);
  syncDirectory(dirname(path));
  finishImport(path, log);
  log.info({ queue: path, items: rows.length, dropped }, 'outbound queue: imported the legacy SQLite queue');
}

function readLegacyQueue(path: string): { rows: LegacyRow[]; dropped: number } {
  // Opening the database also replays its write-ahead log, and closing it checkpoints the log.
  const db = new Database(path);
  try {
    const rows = db.prepare('SELECT grp, topic, payload, enqueued_at FROM queue ORDER BY id').all() as LegacyRow[];
    const counter = db.prepare("SELECT value FROM counters WHERE name = 'dropped'").get() as { value: number } | undefined;
    return { rows, dropped: counter?.value ?? 0 };
  } finally {
    db.close();
  }
}

/**
 * Encodes legacy rows as segment records. Items get new ids from 1, because no running process
 * refers to ids of the legacy queue, and each group's id is the id of its first item.
 */
function encodeLegacyRows(rows: readonly LegacyRow[]): Buffer {
  const sizes = new Map<number, number>();
  for (const row of rows) sizes.set(row.grp, (sizes.get(row.grp) ?? 0) + 1);
  const groupIds = new Map<number, number>();
  const seen = new Map<number, number>();
  const pieces: Buffer[] = [];
  rows.forEach((row, index) => {
    const id = index + 1;
    if (!groupIds.has(row.grp)) groupIds.set(row.grp, id);
    const position = seen.get(row.grp) ?? 0;
    seen.set(row.grp, position + 1);
    const header = encodeRecordHeader({
      id,
      group: groupIds.get(row.grp) as number,
      index: position,
      count: sizes.get(row.grp) as number,
      enqueuedAt: row.enqueued_at,
      topic: Buffer.from(row.topic),
      payload: row.payload,
    });
    pieces.push(header, row.payload);
  });
  return Buffer.concat(pieces);
}

function finishImport(path: string, log: Logger): void {
  renameSync(`${path}.importing`, path);
  syncDirectory(dirname(path));
  removeLegacy(path);
  log.debug({ queue: path }, 'outbound queue: removed the legacy SQLite queue file');
}

function removeLegacy(path: string): void {
  for (const suffix of ['.legacy', '-wal', '-shm', '.legacy-wal', '.legacy-shm']) rmSync(`${path}${suffix}`, { force: true });
}
