import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** File names inside an outbound queue directory. */
export const STATE_FILE = 'state.json';
export const LOCK_FILE = 'lock';
/** Suffix of the lock file beside a queue path, held while a process opens the queue. */
export const OPEN_LOCK_SUFFIX = '.open-lock';
export const SEGMENT_SUFFIX = '.log';
export const ACK_SUFFIX = '.ack';
/** A deleted segment file kept for the next segment, so that appends overwrite allocated blocks. */
export const SPARE_SEGMENT_FILE = 'spare-segment';

/** Counters of a queue that outlive its segment files. */
export interface QueueState {
  /** Lowest id that the queue may give to a new item. */
  nextId: number;
  /** Items dropped from segments that were deleted since. */
  dropped: number;
}

/** File name stem of the segment whose first item has `firstId`, zero-padded so names sort by id. */
export function segmentName(firstId: number): string {
  return String(firstId).padStart(16, '0');
}

/** Reads a file, or returns an empty buffer when it does not exist. */
export function readOptional(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw error;
  }
}

export function readState(dir: string): QueueState {
  const path = join(dir, STATE_FILE);
  const text = readOptional(path).toString('utf8');
  if (text === '') return { nextId: 1, dropped: 0 };
  let parsed: Partial<QueueState> | null = null;
  try {
    parsed = JSON.parse(text) as Partial<QueueState> | null;
  } catch {
    parsed = null;
  }
  if (!Number.isSafeInteger(parsed?.nextId) || !Number.isSafeInteger(parsed?.dropped)) {
    throw new Error(
      `invalid outbound queue state ${path}: expected JSON with integers nextId and dropped, found ${JSON.stringify(text.slice(0, 80))}. ` +
        'Delete the file; the queue then counts drops and ids from its segments only.',
    );
  }
  return { nextId: parsed?.nextId as number, dropped: parsed?.dropped as number };
}

/** Replaces `state.json` through a synced temporary file and syncs the directory. */
export function writeState(dir: string, state: QueueState): void {
  const path = join(dir, STATE_FILE);
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state)}\n`, { flush: true });
  renameSync(temporary, path);
  syncDirectory(dir);
}

/** Syncs a directory, so that entries created, renamed or deleted in it survive a power loss. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
