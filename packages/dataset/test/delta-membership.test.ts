import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetStore, SCHEMA_VERSION, type DatasetStoreOptions } from '../src/index.ts';
import { makeSample, makeSamples } from './helpers/sample-fixtures.ts';
import { makeTempDir } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let storeDir: string;
const openStores: DatasetStore[] = [];

async function openStore(options: DatasetStoreOptions = {}): Promise<DatasetStore> {
  const store = await DatasetStore.open(storeDir, { fsync: false, packBlobs: true, ...options });
  openStores.push(store);
  return store;
}

function withIndex<T>(read: (db: Database.Database) => T): T {
  const db = new Database(join(storeDir, 'index.sqlite'));
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function memberRows(): number {
  return withIndex((db) => db.prepare('SELECT count(*) FROM snapshot_samples').pluck().get() as number);
}

/**
 * Rewrites a closed store in the layout of index schema 2: every snapshot contains a copy of each
 * member row of its parent, and there is no index by sample id.
 */
function expandToSchema2(): void {
  withIndex((db) => {
    db.transaction(() => {
      const snapshots = db.prepare('SELECT version, parent_hash FROM snapshots ORDER BY version').all() as Array<{ version: number; parent_hash: string | null }>;
      for (const { version, parent_hash: parentHash } of snapshots) {
        if (parentHash === null) continue;
        db.prepare(
          `INSERT INTO snapshot_samples (version, sample_id, split, added_in)
           SELECT ?, sample_id, split, added_in FROM snapshot_samples
           WHERE version = (SELECT version FROM snapshots WHERE manifest_hash = ?)`,
        ).run(version, parentHash);
      }
      db.exec('DROP INDEX snapshot_samples_by_sample; PRAGMA user_version = 2;');
    })();
  });
}

/** Lists each version's members as `id split addedIn`, in the order the store yields them. */
function membersOf(store: DatasetStore, versions: number[]): Record<number, string[]> {
  return Object.fromEntries(versions.map((version) => [version, [...store.samples(version)].map((s) => `${s.id} ${s.split} ${s.addedIn}`)]));
}

beforeEach(() => {
  temp = makeTempDir('fieldloop-delta-membership-');
  storeDir = join(temp.dir, 'store');
});

afterEach(async () => {
  for (const store of openStores.splice(0)) await store.close().catch(() => undefined);
  temp.remove();
});

describe('DatasetStore snapshot membership', () => {
  it('writes only the added members of each snapshot, and reads every ancestor', async () => {
    const store = await openStore();
    const v1 = await store.createSnapshot({ note: 'v1', samples: makeSamples(4, 0) });
    const v2 = await store.createSnapshot({ note: 'v2', samples: makeSamples(3, 10, { recording: 'run-b' }) });
    // A sample of v1 again, from another recording: it is not added a second time.
    const again = makeSample({ seed: 0, recording: 'run-c' });
    const v3 = await store.createSnapshot({ note: 'v3', samples: [again, ...makeSamples(2, 20, { recording: 'run-c' })] });
    // A branch from v1 that adds a sample that v2 added.
    const branch = await store.createSnapshot({ note: 'branch', parent: v1.version, samples: makeSamples(1, 10, { recording: 'run-b' }) });

    expect(memberRows()).toBe(4 + 3 + 2 + 1);
    expect([v1.added, v2.added, v3.added, branch.added]).toEqual([4, 3, 2, 1]);
    const members = membersOf(store, [1, 2, 3, 4]);
    expect(members[1]).toHaveLength(4);
    expect(members[2]).toHaveLength(7);
    expect(members[3]).toHaveLength(9);
    expect(members[4]).toHaveLength(5);
    for (const version of [1, 2, 3, 4]) {
      const ids = members[version]!.map((line) => line.split(' ')[0]!);
      expect(ids).toEqual([...ids].sort());
    }
    expect([...store.samples(3, { addedIn: 2 })].map((s) => s.id).sort()).toEqual(makeSamples(3, 10, { recording: 'run-b' }).map((s) => s.record.id).sort());
    expect([...store.samples(4, { addedIn: 2 })]).toEqual([]);
    expect([...store.samples(4, { addedIn: 4 })].map((s) => s.addedIn)).toEqual([4]);
    const trainAndVal = [...store.samples(3, { split: 'train' }), ...store.samples(3, { split: 'val' }), ...store.samples(3, { split: 'test' })];
    expect(trainAndVal).toHaveLength(9);
  });

  it('reads and converts a schema 2 store', async () => {
    const writer = await openStore();
    await writer.createSnapshot({ note: 'v1', samples: makeSamples(4, 0) });
    await writer.createSnapshot({ note: 'v2', samples: makeSamples(3, 10, { recording: 'run-b' }) });
    await writer.createSnapshot({ note: 'branch', parent: 1, samples: makeSamples(2, 20, { recording: 'run-c' }) });
    const expected = membersOf(writer, [1, 2, 3]);
    await writer.close();
    expandToSchema2();
    expect(memberRows()).toBe(4 + 7 + 6);

    const reader = await openStore({ readOnly: true });
    expect(membersOf(reader, [1, 2, 3])).toEqual(expected);
    expect([...reader.samples(2, { addedIn: 1 })]).toHaveLength(4);

    const store = await openStore();
    expect(withIndex((db) => db.pragma('user_version', { simple: true }))).toBe(2);
    // The reader opened before the conversion still reads the right members after it.
    const v4 = await store.createSnapshot({ note: 'v4', parent: 2, samples: makeSamples(1, 30, { recording: 'run-d' }) });
    expect(withIndex((db) => db.pragma('user_version', { simple: true }))).toBe(SCHEMA_VERSION);
    expect(memberRows()).toBe(4 + 3 + 2 + 1);
    expect(membersOf(store, [1, 2, 3])).toEqual(expected);
    expect(membersOf(reader, [1, 2, 3])).toEqual(expected);
    expect([...store.samples(v4.version)]).toHaveLength(8);
    expect(v4.stats.samples).toBe(8);
  });

  it('leaves a schema 2 store unconverted when its first commit fails', async () => {
    const writer = await openStore();
    await writer.createSnapshot({ note: 'v1', samples: makeSamples(2, 0) });
    await writer.createSnapshot({ note: 'v2', samples: makeSamples(2, 10, { recording: 'run-b' }) });
    await writer.close();
    expandToSchema2();
    withIndex((db) => db.exec("CREATE TRIGGER fail_insert BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'disk quota reached'); END"));

    const store = await openStore();
    await expect(store.createSnapshot({ note: 'fails', samples: makeSamples(1, 30) })).rejects.toThrow(/disk quota reached/);
    expect(withIndex((db) => db.pragma('user_version', { simple: true }))).toBe(2);
    expect(memberRows()).toBe(2 + 4);
    expect([...store.samples(2)]).toHaveLength(4);
  });
});
