import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';

/** Everything a store contains, reduced to comparable text. */
export interface StoreState {
  /** sha256 of each table's rows, as sorted JSON lines, by table name. */
  tables: Record<string, string>;
  /** Blob files as `<path>:<sha256 of contents>`, sorted. */
  blobs: string[];
  /** Entries of the staging directory. */
  staging: string[];
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else files.push(path);
  }
  return files;
}

/** Reads a closed store's index rows and blob files. */
export function readStoreState(storeDir: string): StoreState {
  const db = new Database(join(storeDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
  const tables: Record<string, string> = {};
  try {
    const names = db
      .prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    for (const name of names) {
      const rows = db.prepare(`SELECT * FROM "${name}"`).all().map((row) => JSON.stringify(row));
      tables[name] = createHash('sha256').update(rows.sort().join('\n')).digest('hex');
    }
  } finally {
    db.close();
  }
  const blobsDir = join(storeDir, 'blobs');
  const blobs = listFiles(blobsDir)
    .map((path) => `${relative(blobsDir, path)}:${createHash('sha256').update(readFileSync(path)).digest('hex')}`)
    .sort();
  const stagingDir = join(storeDir, 'staging');
  const staging = existsSync(stagingDir) ? readdirSync(stagingDir).sort() : [];
  return { tables, blobs, staging };
}

/** Counts the blob files of a store. */
export function countBlobFiles(storeDir: string): number {
  return listFiles(join(storeDir, 'blobs')).length;
}

/** Creates a temporary directory and returns it with a function that removes it. */
export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `fieldloop-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
