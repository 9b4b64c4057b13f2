/**
 * Runs `stage` for a hash unless a write of that hash is already in `writes`, in which case it
 * waits for that write. A write that fails is removed from `writes`, so the hash can be staged
 * again, and its error is rethrown.
 */
export async function stageOnce<T>(writes: Map<string, Promise<T>>, sha256: string, stage: () => Promise<T>): Promise<void> {
  const pending = writes.get(sha256);
  if (pending !== undefined) {
    await pending;
    return;
  }
  const write = stage();
  writes.set(sha256, write);
  try {
    await write;
  } catch (error) {
    writes.delete(sha256);
    throw error;
  }
}
