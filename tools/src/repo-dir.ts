import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, found from this file's place in `tools/src`. */
export const REPO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
