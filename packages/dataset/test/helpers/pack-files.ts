import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packFileName } from '../../src/pack-format.ts';

/** Sizes in bytes of a store's pack files, by file name. */
export function packFileSizes(storeDir: string): Record<string, number> {
  const packsDir = join(storeDir, 'packs');
  if (!existsSync(packsDir)) return {};
  const sizes: Record<string, number> = {};
  for (const name of readdirSync(packsDir).sort()) sizes[name] = statSync(join(packsDir, name)).size;
  return sizes;
}

/** A row of `packed_blobs`. */
export interface PackedBlobRow {
  sha256: string;
  pack: number;
  offset: number;
  length: number;
}

/** Reads a closed store's pack entries, or none when its index has no pack tables. */
export function readPackedBlobs(storeDir: string): PackedBlobRow[] {
  return readRowsIfPresent<PackedBlobRow>(storeDir, 'packed_blobs', 'SELECT * FROM packed_blobs ORDER BY sha256');
}

/** Reads the committed length of each pack of a closed store, by pack file name. */
export function readCommittedPackBytes(storeDir: string): Record<string, number> {
  const rows = readRowsIfPresent<{ id: number; committed_bytes: number }>(storeDir, 'blob_packs', 'SELECT * FROM blob_packs ORDER BY id');
  return Object.fromEntries(rows.map((row) => [packFileName(row.id), row.committed_bytes]));
}

function readRowsIfPresent<T>(storeDir: string, table: string, sql: string): T[] {
  const db = new Database(join(storeDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const found = db.prepare<[string], number>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(table);
    return found === 0 ? [] : db.prepare<[], T>(sql).all();
  } finally {
    db.close();
  }
}
