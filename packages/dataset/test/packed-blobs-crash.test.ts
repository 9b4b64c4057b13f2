import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetStore } from '../src/index.ts';
import { startChild, stopChildren, type RunningChild } from './helpers/child-process.ts';
import { packFileSizes, readCommittedPackBytes } from './helpers/pack-files.ts';
import { makeSamples } from './helpers/sample-fixtures.ts';
import { makeTempDir, readStoreState, type StoreState } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let storeDir: string;
const children: RunningChild[] = [];

/** Creates a store with one packed snapshot of 5 samples and returns its state after closing it. */
async function seedStore(): Promise<StoreState> {
  const store = await DatasetStore.open(storeDir, { fsync: false, packBlobs: true });
  await store.createSnapshot({ note: 'seed', samples: makeSamples(5, 0) });
  await store.close();
  return readStoreState(storeDir);
}

/** Opens the store as a writer, which runs recovery, and checks every member's blobs of every snapshot. */
async function recoverAndCheck(): Promise<DatasetStore> {
  const store = await DatasetStore.open(storeDir, { fsync: false, packBlobs: true });
  for (const snapshot of store.listSnapshots()) {
    const members = [...store.samples(snapshot.version)];
    expect(members).toHaveLength(snapshot.stats.samples);
    for (const member of members) {
      await store.readInput(member);
      await store.readImage(member);
    }
  }
  return store;
}

function runChild(args: string[]): RunningChild {
  const running = startChild(args);
  children.push(running);
  return running;
}

beforeEach(() => {
  temp = makeTempDir('pack-crash');
  storeDir = join(temp.dir, 'store');
});

afterEach(async () => {
  await stopChildren(children);
  temp.remove();
});

describe('DatasetStore packs after SIGKILL', () => {
  it('recovers from a kill mid-batch', async () => {
    const before = await seedStore();
    const sizes = packFileSizes(storeDir);
    const running = runChild([storeDir, 'kill-mid-batch', '100', '120', 'pack']);
    expect((await running.exited).signal).toBe('SIGKILL');
    expect(running.output()).toContain('ready');
    // 60 samples of about 96 KiB fill one 4 MiB write chunk, which reaches the file before the kill.
    expect(packFileSizes(storeDir)['00000001.pack']).toBeGreaterThanOrEqual((sizes['00000001.pack'] as number) + 4 * 1024 * 1024);

    await (await recoverAndCheck()).close();
    expect(packFileSizes(storeDir)).toEqual(sizes);
    expect(readStoreState(storeDir)).toEqual(before);
  });

  it('recovers from a kill before commit', async () => {
    const before = await seedStore();
    const running = runChild([storeDir, 'stop-before-commit', '100', '60', 'pack']);
    await running.ready;
    running.child.kill('SIGKILL');
    expect((await running.exited).signal).toBe('SIGKILL');

    await (await recoverAndCheck()).close();
    expect(readStoreState(storeDir)).toEqual(before);
    expect(readCommittedPackBytes(storeDir)).toEqual(packFileSizes(storeDir));
  });

  it('recovers from a kill after the pack sync', async () => {
    const before = await seedStore();
    const sizes = packFileSizes(storeDir);
    const running = runChild([storeDir, 'kill-after-publish', '100', '8', 'pack']);
    expect((await running.exited).signal).toBe('SIGKILL');
    expect(running.output()).toContain('ready');
    // The pack contains all 16 new records, but the transaction that records them never committed.
    expect(packFileSizes(storeDir)['00000001.pack']).toBeGreaterThan(sizes['00000001.pack'] as number);

    const store = await recoverAndCheck();
    expect(store.listSnapshots()).toHaveLength(1);
    await store.close();
    expect(packFileSizes(storeDir)).toEqual(sizes);
    expect(readStoreState(storeDir)).toEqual(before);
  });

  it('keeps every commit through kills', async () => {
    await seedStore();
    const committed: number[] = [];
    // Each round kills the writer at another point of its loop: while adding, writing, syncing or committing.
    for (const [round, delayMs] of [0, 7, 23, 41].entries()) {
      const running = runChild([storeDir, 'commit-loop', String(100_000 * (round + 1)), '12', 'pack']);
      await running.ready;
      const start = committed.length;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`No commit within 30 s: ${running.output()}`)), 30_000);
        running.child.stdout?.on('data', () => {
          if (/committed \d+\n/.test(running.output())) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      running.child.kill('SIGKILL');
      expect((await running.exited).signal).toBe('SIGKILL');
      const versions = [...running.output().matchAll(/committed (\d+)\n/g)].map((match) => Number(match[1]));
      expect(versions.length).toBeGreaterThan(0);
      committed.push(...versions);

      const store = await recoverAndCheck();
      const listed = new Set(store.listSnapshots().map((snapshot) => snapshot.version));
      for (const version of committed.slice(start)) expect(listed.has(version)).toBe(true);
      await store.close();
      expect(readCommittedPackBytes(storeDir)).toEqual(packFileSizes(storeDir));
      expect(existsSync(join(storeDir, 'staging'))).toBe(false);
    }
  });
});
