import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Finds the folder of real recordings and images that tests and benchmarks may read. It is
 * `FIELDLOOP_SHARED_DATA` when set, else `shared/data` beside the repository root. Returns null
 * when neither exists, so callers can skip with a message.
 */
export function findSharedData(start: string = process.cwd()): string | null {
  const fromEnv = process.env.FIELDLOOP_SHARED_DATA;
  if (fromEnv) return existsSync(fromEnv) ? resolve(fromEnv) : null;
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'nx.json'))) {
      const candidate = join(dir, '..', 'shared', 'data');
      return existsSync(candidate) ? resolve(candidate) : null;
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
