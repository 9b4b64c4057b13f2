import { hostname } from 'node:os';
import { DatasetStoreError } from './dataset-store-error.ts';
import { FileLock, type FileLockErrors } from './file-lock.ts';

/** Builds the errors of a store's lock file: DatasetStoreErrors with code `locked`. */
function storeLockErrors(storeDir: string): FileLockErrors {
  return {
    locked(owner, path) {
      const where = owner.hostname === hostname() ? `process ${owner.pid}` : `process ${owner.pid} on host ${owner.hostname}`;
      const fix =
        owner.pid === process.pid && owner.hostname === hostname()
          ? 'This process already has the store open; close that DatasetStore first.'
          : `Wait for that process to finish, or stop it. If it no longer runs, delete ${path}.`;
      return new DatasetStoreError('locked', storeDir, `Store ${storeDir} is locked by ${where} since ${owner.acquiredAt || 'an unknown time'}. ${fix}`);
    },
    invalid(path, text) {
      return new DatasetStoreError(
        'locked',
        storeDir,
        `Invalid lock file ${path} in store ${storeDir}: expected JSON with pid and hostname, found ${JSON.stringify(text)}. ` +
          'Delete it if no process is using the store.',
      );
    },
    contended(path) {
      return new DatasetStoreError(
        'locked',
        storeDir,
        `Could not take the lock ${path} of store ${storeDir}: other processes kept taking it. Retry when they have finished.`,
      );
    },
  };
}

/**
 * Takes the lock file of the store in `storeDir`. Throws a DatasetStoreError with code `locked`
 * that names the owner when a live process has it.
 */
export function acquireStoreLock(path: string, storeDir: string): FileLock {
  return FileLock.acquire(path, storeLockErrors(storeDir));
}
