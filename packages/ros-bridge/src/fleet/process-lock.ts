import { FileLock } from '@fieldloop/dataset';

/** Texts of the errors of one kind of lock file. */
export interface ProcessLockTexts {
  /** Name of what the lock guards, such as `outbound queue PATH`. */
  subject: string;
  /** Advice that frees a lock of a running process, such as `Close that queue or stop that process`. */
  release: string;
  /** Advice for an invalid lock file, such as `Delete it if no process uses the queue`. */
  deleteInvalid: string;
}

/**
 * Takes an exclusive lock file that records the owner's pid and host name, with errors that name
 * what it guards and what to do. A lock left by a process on this host that no longer runs is
 * taken over.
 */
export function acquireProcessLock(path: string, texts: ProcessLockTexts): FileLock {
  const { subject, release, deleteInvalid } = texts;
  return FileLock.acquire(path, {
    locked: (owner, lockPath) =>
      new Error(`${subject} is locked by process ${owner.pid} on host ${owner.hostname}. ${release}; if it no longer runs, delete ${lockPath}.`),
    invalid: (lockPath, text) =>
      new Error(`invalid lock file ${lockPath} of ${subject}: expected JSON with pid and hostname, found ${JSON.stringify(text)}. ${deleteInvalid}.`),
    contended: (lockPath) => new Error(`could not take the lock ${lockPath} of ${subject}: other processes kept taking it. Retry when they have finished.`),
  });
}
