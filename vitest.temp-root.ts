import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest global setup shared by every package: the run gets a temp folder of its own as TMPDIR,
 * which test workers and the processes they start inherit, and the folder is removed when the run
 * ends. Tests therefore leave nothing in the system temp folder. Set FIELDLOOP_KEEP_TEST_TMP=1 to
 * keep the folder, for example to look at the files of a failed test.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'fieldloop-test-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    if (process.env.FIELDLOOP_KEEP_TEST_TMP === '1') return;
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
