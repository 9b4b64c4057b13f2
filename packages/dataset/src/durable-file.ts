import { open, readdir, rename } from 'node:fs/promises';

/** Tells whether an error is a Node.js system error with the given code, such as `ENOENT`. */
export function hasErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Writes bytes to a new file, failing when the path exists, and flushes them to the disk
 * when `fsync` is true.
 */
export async function writeNewFile(path: string, bytes: Uint8Array | string, fsync: boolean): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(bytes);
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` atomically: writes a temporary file beside it, flushes it, and renames it over
 * `path`. A reader sees the old content or the new, never a part.
 */
export async function replaceFile(path: string, bytes: Uint8Array | string, fsync: boolean): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  await writeNewFile(temporary, bytes, fsync);
  await rename(temporary, path);
}

/**
 * Flushes a directory's entries, so that files created or renamed into it survive a power loss.
 * Platforms that cannot open a directory for reading (Windows) skip the flush.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch (error) {
    if (hasErrorCode(error, 'EISDIR') || hasErrorCode(error, 'EPERM') || hasErrorCode(error, 'EACCES')) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (!hasErrorCode(error, 'EINVAL') && !hasErrorCode(error, 'EPERM')) throw error;
  } finally {
    await handle.close();
  }
}

/** Lists a directory's entries, or returns none when the directory does not exist. */
export async function readDirIfPresent(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (hasErrorCode(error, 'ENOENT')) return [];
    throw error;
  }
}
