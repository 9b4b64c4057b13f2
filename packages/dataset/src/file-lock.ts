import { randomBytes } from 'node:crypto';
import { linkSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { hasErrorCode } from './durable-file.ts';

/** Contents of a lock file. */
export interface LockOwner {
  pid: number;
  hostname: string;
  acquiredAt: string;
}

/** The errors a lock raises, worded by its user for what the lock guards. */
export interface FileLockErrors {
  /** A live process holds the lock. */
  locked(owner: LockOwner, path: string): Error;
  /** The lock file does not contain an owner; `text` is its start. */
  invalid(path: string, text: string): Error;
  /** Other processes kept taking the lock while this one tried. */
  contended(path: string): Error;
}

/** Lock files that this process holds, by absolute path. */
const heldByThisProcess = new Set<string>();

const MAX_ATTEMPTS = 5;

/**
 * An exclusive lock kept as a file that contains the owner's pid and host name, such as a data
 * set store's or an outbound queue's. A lock whose owner is a process on this host that no
 * longer runs is stale and is taken over. A lock from another host is never taken over, because
 * its process cannot be checked.
 */
export class FileLock {
  readonly path: string;
  private readonly owner: LockOwner;
  private released = false;

  private constructor(path: string, owner: LockOwner) {
    this.path = path;
    this.owner = owner;
  }

  /** Takes the lock at `path`. Throws `errors.locked`, naming the owner, when a live process has it. */
  static acquire(path: string, errors: FileLockErrors): FileLock {
    const absolute = resolve(path);
    const owner: LockOwner = { pid: process.pid, hostname: hostname(), acquiredAt: new Date().toISOString() };
    const contents = `${JSON.stringify(owner)}\n`;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      if (createExclusive(absolute, contents)) {
        heldByThisProcess.add(absolute);
        return new FileLock(absolute, owner);
      }
      const current = readOwner(absolute, errors);
      if (current === null) continue;
      if (isLive(current, absolute)) throw errors.locked(current, absolute);
      removeStale(absolute, errors);
    }
    throw errors.contended(absolute);
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
function readOwner(path: string, errors: FileLockErrors): LockOwner | null {
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
    throw errors.invalid(path, text.slice(0, 80));
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
function removeStale(path: string, errors: FileLockErrors): void {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return;
    throw error;
  }
  const moved = readOwner(aside, errors);
  if (moved !== null && isLive(moved, path)) {
    try {
      linkSync(aside, path);
    } catch (error) {
      if (!hasErrorCode(error, 'EEXIST')) throw error;
    } finally {
      unlinkSync(aside);
    }
    throw errors.locked(moved, path);
  }
  unlinkSync(aside);
}
