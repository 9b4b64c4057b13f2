import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/** Lock files that this process has taken, by absolute path. */
const heldByThisProcess = new Set<string>();

interface LockOwner {
  pid: number;
  hostname: string;
}

function hasCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === code;
}

/**
 * An exclusive lock on an outbound queue directory, kept as a file that contains the owner's pid
 * and host name. A lock left by a process on this host that no longer runs is taken over.
 */
export class QueueLock {
  private released = false;

  private constructor(readonly path: string) {}

  /** Takes the lock at `path`; throws an error naming the owner when a live process has it. */
  static acquire(path: string, queuePath: string): QueueLock {
    const absolute = resolve(path);
    const owner: LockOwner = { pid: process.pid, hostname: hostname() };
    for (let attempt = 0; attempt < 3; attempt += 1) {
      let fd: number;
      try {
        fd = openSync(absolute, 'wx');
      } catch (error) {
        if (!hasCode(error, 'EEXIST')) {
          throw new Error(`creating the lock file ${absolute} of outbound queue ${queuePath} failed: ${(error as Error).message}. Check that the directory is writable.`, {
            cause: error,
          });
        }
        const current = readOwner(absolute);
        if (current !== null && isLive(current, absolute)) {
          throw new Error(
            `outbound queue ${queuePath} is locked by process ${current.pid} on host ${current.hostname}. ` +
              `Close that queue or stop that process; if it no longer runs, delete ${absolute}.`,
          );
        }
        unlinkQuietly(absolute);
        continue;
      }
      try {
        writeSync(fd, `${JSON.stringify(owner)}\n`);
      } finally {
        closeSync(fd);
      }
      heldByThisProcess.add(absolute);
      return new QueueLock(absolute);
    }
    throw new Error(`could not take the lock ${absolute} of outbound queue ${queuePath}: other processes kept taking it. Retry when they have finished.`);
  }

  /** Removes the lock file. Calling it twice does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldByThisProcess.delete(this.path);
    unlinkQuietly(this.path);
  }
}

/** Reads the owner of a lock file; returns null for a missing, empty or unreadable one, which counts as stale. */
function readOwner(path: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner> | null;
    if (typeof parsed?.pid === 'number' && typeof parsed.hostname === 'string') return { pid: parsed.pid, hostname: parsed.hostname };
  } catch {
    // A lock file cut short by a crash between create and write is stale.
  }
  return null;
}

function isLive(owner: LockOwner, path: string): boolean {
  // A process on another host cannot be checked, so its lock is kept.
  if (owner.hostname !== hostname()) return true;
  // A lock with this pid that this process does not hold was left by an earlier process with the same pid.
  if (owner.pid === process.pid) return heldByThisProcess.has(path);
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return !hasCode(error, 'ESRCH');
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error;
  }
}
