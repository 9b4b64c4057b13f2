import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetStore, DatasetStoreError } from '../src/index.ts';
import { startChild, stopChildren, type RunningChild } from './helpers/child-process.ts';
import { makeSample, makeSamples } from './helpers/sample-fixtures.ts';
import { countBlobFiles, makeTempDir, readStoreState, type StoreState } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let storeDir: string;
const children: RunningChild[] = [];

/** Creates a store with one snapshot of 5 samples and returns its state after closing it. */
async function seedStore(): Promise<StoreState> {
  const store = await DatasetStore.open(storeDir, { fsync: false });
  await store.createSnapshot({ note: 'seed', samples: makeSamples(5, 0) });
  await store.close();
  return readStoreState(storeDir);
}

beforeEach(() => {
  temp = makeTempDir('atomic');
  storeDir = join(temp.dir, 'store');
});

afterEach(async () => {
  await stopChildren(children);
  temp.remove();
});

describe('DatasetStore atomicity', () => {
  it('leaves the store unchanged after abort', async () => {
    const before = await seedStore();
    const store = await DatasetStore.open(storeDir, { fsync: false });
    const builder = store.beginSnapshot({ note: 'interrupted' });
    for (const sample of [...makeSamples(4, 100), makeSample({ seed: 0, recording: 'run-z' })]) {
      await builder.add(sample.record, sample);
    }
    const broken = makeSample({ seed: 200 });
    const addBroken = builder.add({ ...broken.record, width: 99 }, broken);
    await expect(addBroken).rejects.toThrow(DatasetStoreError);
    await builder.abort();
    await store.close();

    const after = readStoreState(storeDir);
    expect(after.tables).toEqual(before.tables);
    expect(after.blobs).toEqual(before.blobs);
    expect(after.staging).toEqual([]);
  });

  it('rolls back a failed createSnapshot', async () => {
    const before = await seedStore();
    const store = await DatasetStore.open(storeDir, { fsync: false });
    const samples = makeSamples(6, 100);
    samples.splice(3, 0, { ...samples[0]!, input: new Uint8Array(4 * 3 * 3) });
    await expect(store.createSnapshot({ note: 'bad input', samples })).rejects.toThrow(/input bytes hash to/);
    await store.close();
    expect(readStoreState(storeDir)).toEqual(before);
  });

  it('rolls back blobs on index failure', async () => {
    const before = await seedStore();
    // A trigger makes the snapshot insert fail inside the commit transaction, after the blobs
    // were published. Triggers live in sqlite_master, which the row hashes leave out.
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.exec("CREATE TRIGGER fail_insert BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'disk quota reached'); END");
    db.close();

    const store = await DatasetStore.open(storeDir, { fsync: false });
    const error = await store.createSnapshot({ note: 'fails', samples: makeSamples(3, 100) }).catch((caught: unknown) => caught);
    expect((error as DatasetStoreError).code).toBe('write-failed');
    expect((error as DatasetStoreError).message).toContain('disk quota reached');
    await store.close();
    expect(readStoreState(storeDir)).toEqual(before);
  });

  it('aborts an open builder on close', async () => {
    const before = await seedStore();
    const store = await DatasetStore.open(storeDir, { fsync: false });
    const builder = store.beginSnapshot({ note: 'left open' });
    for (const sample of makeSamples(3, 100)) await builder.add(sample.record, sample);
    await store.close();
    expect(readStoreState(storeDir)).toEqual(before);
  });

  it('recovers from a kill before commit', async () => {
    const before = await seedStore();
    const running = startChild([storeDir, 'stop-before-commit', '100', '8']);
    children.push(running);
    await running.ready;
    expect(readdirSync(join(storeDir, 'staging'))).toHaveLength(1);
    running.child.kill('SIGKILL');
    expect((await running.exited).signal).toBe('SIGKILL');
    expect(existsSync(join(storeDir, 'lock'))).toBe(true);

    const store = await DatasetStore.open(storeDir, { fsync: false });
    expect(store.listSnapshots()).toHaveLength(1);
    await store.close();
    const after = readStoreState(storeDir);
    expect(after.tables).toEqual(before.tables);
    expect(after.blobs).toEqual(before.blobs);
    expect(after.staging).toEqual([]);
  });

  it('recovers from a kill after publishing', async () => {
    const before = await seedStore();
    const running = startChild([storeDir, 'kill-after-publish', '100', '8']);
    children.push(running);
    expect((await running.exited).signal).toBe('SIGKILL');
    expect(running.output()).toContain('ready');
    // The 8 new samples' input and image blobs are in place, but no index row references them.
    expect(countBlobFiles(storeDir)).toBe(before.blobs.length + 16);

    const store = await DatasetStore.open(storeDir, { fsync: false });
    await store.close();
    const after = readStoreState(storeDir);
    expect(after.tables).toEqual(before.tables);
    expect(after.blobs).toEqual(before.blobs);
    expect(after.staging).toEqual([]);
  });
});

describe('DatasetStore lock', () => {
  it('rejects a second writer process', async () => {
    await seedStore();
    const running = startChild([storeDir, 'hold', '0', '0']);
    children.push(running);
    await running.ready;

    const error = await DatasetStore.open(storeDir).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DatasetStoreError);
    expect((error as DatasetStoreError).code).toBe('locked');
    expect((error as DatasetStoreError).message).toContain(`process ${running.child.pid}`);
    expect((error as DatasetStoreError).message).toContain(storeDir);

    const reader = await DatasetStore.open(storeDir, { readOnly: true });
    expect(reader.listSnapshots()).toHaveLength(1);
    await reader.close();
  });

  it('takes over the lock of a killed process', async () => {
    const before = await seedStore();
    const running = startChild([storeDir, 'hold', '0', '0']);
    children.push(running);
    await running.ready;
    running.child.kill('SIGKILL');
    await running.exited;

    const store = await DatasetStore.open(storeDir, { fsync: false });
    await store.createSnapshot({ note: 'after takeover', samples: makeSamples(1, 50) });
    await store.close();
    expect(readStoreState(storeDir).blobs.length).toBe(before.blobs.length + 2);
    expect(existsSync(join(storeDir, 'lock'))).toBe(false);
  });

  it('rejects an unreadable lock file', async () => {
    await seedStore();
    writeFileSync(join(storeDir, 'lock'), 'garbage');
    const error = await DatasetStore.open(storeDir).catch((caught: unknown) => caught);
    expect((error as DatasetStoreError).code).toBe('locked');
    expect((error as DatasetStoreError).message).toMatch(/Invalid lock file .*Delete it if no process is using the store/);
  });

  it('never takes over a lock from another host', async () => {
    await seedStore();
    const owner = { pid: 1, hostname: `not-${hostname()}`, acquiredAt: '2024-01-01T00:00:00.000Z' };
    writeFileSync(join(storeDir, 'lock'), JSON.stringify(owner));
    const error = await DatasetStore.open(storeDir).catch((caught: unknown) => caught);
    expect((error as DatasetStoreError).code).toBe('locked');
    expect((error as DatasetStoreError).message).toContain(`on host not-${hostname()}`);
  });
});
