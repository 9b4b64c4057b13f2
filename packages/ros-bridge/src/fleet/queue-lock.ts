import type { FileLock } from '@fieldloop/dataset';
import { acquireProcessLock } from './process-lock.ts';

/**
 * Takes the exclusive lock of an outbound queue directory: a file with the owner's pid and host
 * name. A lock left by a process on this host that no longer runs is taken over.
 */
export function acquireQueueLock(path: string, queuePath: string): FileLock {
  return acquireProcessLock(path, {
    subject: `outbound queue ${queuePath}`,
    release: 'Close that queue or stop that process',
    deleteInvalid: 'Delete it if no process uses the queue',
  });
}
