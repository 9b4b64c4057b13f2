import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

async function filesUnder(root: string): Promise<string[]> {
  const info = await stat(root);
  if (info.isFile()) return [root];
  const files: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}

/** Computes the sha256 over the relative names and bytes of a file, or of every file under a folder. */
export async function fingerprint(root: string): Promise<string> {
  const total = createHash('sha256');
  for (const file of await filesUnder(root)) {
    total.update(`${relative(root, file)}\0`);
    for await (const chunk of createReadStream(file)) total.update(chunk as Buffer);
    total.update('\0');
  }
  return total.digest('hex');
}
