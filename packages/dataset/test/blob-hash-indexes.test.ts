import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetStore } from '../src/index.ts';
import { StoreIndex } from '../src/store-index.ts';
import { makeSamples } from './helpers/sample-fixtures.ts';
import { makeTempDir } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let storeDir: string;

function withIndex<T>(read: (db: Database.Database) => T): T {
  const db = new Database(join(storeDir, 'index.sqlite'));
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function indexNames(): string[] {
  return withIndex((db) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[]);
}

async function commit(seed: number, count = 3): Promise<void> {
  const store = await DatasetStore.open(storeDir, { fsync: false });
  await store.createSnapshot({ note: `seed ${seed}`, samples: makeSamples(count, seed) });
  await store.close();
}

beforeEach(() => {
  temp = makeTempDir('blob-hash-indexes');
  storeDir = join(temp.dir, 'store');
});

afterEach(() => {
  temp.remove();
});

describe('indexes by blob hash', () => {
  it('a new store has none', async () => {
    await commit(1);
    expect(indexNames()).not.toContain('samples_by_input');
    expect(indexNames()).not.toContain('lineage_by_image');
  });

  it('the next commit drops those of an older store', async () => {
    await commit(1);
    withIndex((db) => db.exec('CREATE INDEX samples_by_input ON samples (input_sha256); CREATE INDEX lineage_by_image ON lineage (image_sha256);'));
    expect(indexNames()).toEqual(expect.arrayContaining(['lineage_by_image', 'samples_by_input']));
    await commit(10);
    expect(indexNames()).not.toContain('samples_by_input');
    expect(indexNames()).not.toContain('lineage_by_image');
  });

  it('isBlobReferenced finds both blobs of a stored sample', async () => {
    const [sample] = makeSamples(1, 1);
    await commit(1, 1);
    const index = new StoreIndex(new Database(join(storeDir, 'index.sqlite')));
    try {
      expect(index.isBlobReferenced(sample!.record.inputSha256)).toBe(true);
      expect(index.isBlobReferenced(sample!.record.imageSha256)).toBe(true);
      expect(index.isBlobReferenced('0'.repeat(64))).toBe(false);

      // Rows committed later count only after the copy is forgotten.
      const [later] = makeSamples(1, 50);
      await commit(50, 1);
      expect(index.isBlobReferenced(later!.record.inputSha256)).toBe(false);
      index.forgetBlobReferences();
      expect(index.isBlobReferenced(later!.record.inputSha256)).toBe(true);
    } finally {
      index.close();
    }
  });
});
