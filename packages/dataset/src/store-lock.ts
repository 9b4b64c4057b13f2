import { randomBytes } from 'node:crypto';
import { linkSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { DatasetStoreError } from './dataset-store-error.ts';
import { hasErrorCode } from './durable-file.ts';

/** Contents of a lock file. */
export interface LockOwner {
  pid: number;
  hostname: string;
  acquiredAt: string;
}

/** Lock files that this process holds, by absolute path. */
const heldByThisProcess = new Set<string>();

const MAX_ATTEMPTS = 5;

/**
 * An exclusive lock on a store, kept as a file that contains the owner's pid and host name. A
 * lock whose owner is a process on this host that no longer runs is stale and is taken over.
 * A lock from another host is never taken over, because its process cannot be checked.
 */
export class StoreLock {
  readonly path: string;
  private readonly owner: LockOwner;
  private released = false;

  private constructor(path: string, owner: LockOwner) {
    this.path = path;
    this.owner = owner;
  }

  /**
   * Takes the lock at `path` for the store in `storeDir`. Throws a DatasetStoreError with code
   * `locked` that names the owner when a live process has it.
   */
  static acquire(path: string, storeDir: string): StoreLock {
    const absolute = resolve(path);
    const owner: LockOwner = { pid: process.pid, hostname: hostname(), acquiredAt: new Date().toISOString() };
    const contents = `${JSON.stringify(owner)}\n`;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      if (createExclusive(absolute, contents)) {
        heldByThisProcess.add(absolute);
        return new StoreLock(absolute, owner);
      }
      const current = readOwner(absolute, storeDir);
      if (current === null) continue;
      if (isLive(current, absolute)) throw lockedError(current, absolute, storeDir);
      removeStale(absolute, storeDir);
    }
    throw new DatasetStoreError(
      'locked',
      storeDir,
      `Could not take the lock ${absolute} of store ${storeDir}: other processes kept taking it. Retry when they have finished.`,
    );
  }

  /** Removes the lock file if it still names this owner. Calling it twice does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldByThisProcess.delete(this.path);
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if (hasErrorCode(error, 'ENOENT')) return;
      throw error;
    }
    if (text !== `${JSON.stringify(this.owner)}\n`) return;
    try {
      unlinkSync(this.path);
    } catch (error) {
      if (!hasErrorCode(error, 'ENOENT')) throw error;
    }
  }
}

/**
 * Creates the lock file with its contents in one step: a complete temporary file is linked to
 * the lock path, which fails when the path exists. Returns false when the lock exists.
 */
function createExclusive(path: string, contents: string): boolean {
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(temporary, contents, { flag: 'wx' });
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if (hasErrorCode(error, 'EEXIST')) return false;
    if (hasErrorCode(error, 'EPERM') || hasErrorCode(error, 'ENOTSUP') || hasErrorCode(error, 'ENOSYS')) {
      return createWithoutLink(path, contents);
    }
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/** Creates the lock file on filesystems without hard links. A reader may briefly see it empty. */
function createWithoutLink(path: string, contents: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if (hasErrorCode(error, 'EEXIST')) return false;
    throw error;
  }
  try {
    writeFileSync(fd, contents);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Reads the owner of a lock file, or returns null when the file has gone. */
function readOwner(path: string, storeDir: string): LockOwner | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return null;
    throw error;
  }
  let parsed: Partial<LockOwner> | null = null;
  try {
    parsed = JSON.parse(text) as Partial<LockOwner> | null;
  } catch {
    parsed = null;
  }
  if (parsed === null || typeof parsed.pid !== 'number' || typeof parsed.hostname !== 'string') {
    throw new DatasetStoreError(
      'locked',
      storeDir,
      `Invalid lock file ${path} in store ${storeDir}: expected JSON with pid and hostname, found ${JSON.stringify(text.slice(0, 80))}. ` +
        'Delete it if no process is using the store.',
    );
  }
  return { pid: parsed.pid, hostname: parsed.hostname, acquiredAt: String(parsed.acquiredAt ?? '') };
}

function isLive(owner: LockOwner, path: string): boolean {
  if (owner.hostname !== hostname()) return true;
  // A lock with this process's pid that this process does not hold was left by an earlier
  // process that had the same pid.
  if (owner.pid === process.pid) return heldByThisProcess.has(path);
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return !hasErrorCode(error, 'ESRCH');
  }
}

/**
 * Moves a stale lock aside and deletes it. If another process took the lock between the check
 * and the move, its lock is put back and the error names it.
 */
function removeStale(path: string, storeDir: string): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return;
    throw error;
  }
  const moved = readOwner(aside, storeDir);
  if (moved !== null && isLive(moved, path)) {
    try {
      linkSync(aside, path);
    } catch (error) {
      if (!hasErrorCode(error, 'EEXIST')) throw error;
    } finally {
      unlinkSync(aside);
    }
    throw lockedError(moved, path, storeDir);
  }
  unlinkSync(aside);
}

function lockedError(owner: LockOwner, path: string, storeDir: string): DatasetStoreError {
  const where = owner.hostname === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on host ${owner.hostname}`;
  const fix =
    owner.pid === process.pid && owner.hostname === hostname()
      ? 'This process already has the store open; close that DatasetStore first.'
      : `Wait for that process to finish, or stop it. If it no longer runs, delete ${path}.`;
  return new DatasetStoreError(
    'locked',
    storeDir,
    `Store ${storeDir} is locked by ${where} since ${owner.acquiredAt || 'an unknown time'}. ${fix}`,
  );
}
