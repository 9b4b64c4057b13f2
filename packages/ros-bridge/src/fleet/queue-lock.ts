import { FileLock, type FileLockErrors } from '@fieldloop/dataset';

/** Builds the errors of an outbound queue's lock file, which name the queue and what to do. */
function queueLockErrors(queuePath: string): FileLockErrors {
  return {
    locked: (owner, path) =>
      new Error(
        `outbound queue ${queuePath} is locked by process ${owner.pid} on host ${owner.hostname}. ` +
          `Close that queue or stop that process; if it no longer runs, delete ${path}.`,
      ),
    invalid: (path, text) =>
      new Error(`invalid lock file ${path} of outbound queue ${queuePath}: expected JSON with pid and hostname, found ${JSON.stringify(text)}. Delete it if no process uses the queue.`),
    contended: (path) => new Error(`could not take the lock ${path} of outbound queue ${queuePath}: other processes kept taking it. Retry when they have finished.`),
  };
}

/**
 * Takes the exclusive lock of an outbound queue directory: a file with the owner's pid and host
 * name. A lock left by a process on this host that no longer runs is taken over.
 */
export function acquireQueueLock(path: string, queuePath: string): FileLock {
  return FileLock.acquire(path, queueLockErrors(queuePath));
}
