import { appendFileSync, existsSync, openSync, closeSync, readSync, renameSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '@fieldloop/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetStore, DatasetStoreError, SCHEMA_VERSION, type DatasetStoreOptions, type NewSample } from '../src/index.ts';
import { packFileSizes, readCommittedPackBytes, readPackedBlobs } from './helpers/pack-files.ts';
import { makeSample, makeSamples } from './helpers/sample-fixtures.ts';
import { countBlobFiles, makeTempDir, readStoreState } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let storeDir: string;
const openStores: DatasetStore[] = [];

async function openStore(options: DatasetStoreOptions = {}, dir = storeDir): Promise<DatasetStore> {
  const store = await DatasetStore.open(dir, { fsync: false, packBlobs: true, ...options });
  openStores.push(store);
  return store;
}

async function errorOf(promise: Promise<unknown>): Promise<DatasetStoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DatasetStoreError) return error;
    throw error;
  }
  throw new Error('Expected a DatasetStoreError, but nothing was thrown.');
}

async function expectBytesRead(store: DatasetStore, samples: readonly NewSample[]): Promise<void> {
  for (const sample of samples) {
    expect((await store.readInput(sample.record)).equals(Buffer.from(sample.input))).toBe(true);
    expect((await store.readImage(sample.record)).equals(Buffer.from(sample.image))).toBe(true);
  }
}

function userVersion(dir = storeDir): number {
  const db = new Database(join(dir, 'index.sqlite'), { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

/** Turns a closed store into what fieldloop wrote before packs existed: no pack tables, schema version 1. */
function downgradeToVersion1(dir = storeDir): void {
  const db = new Database(join(dir, 'index.sqlite'));
  db.exec('DROP TABLE packed_blobs; DROP TABLE blob_packs; PRAGMA user_version = 1;');
  db.close();
}

/** Creates a Logger that keeps the messages of warnings and errors. */
function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  const keep = (_fields: Record<string, unknown>, message: string): void => {
    messages.push(message);
  };
  return { messages, debug: () => undefined, info: () => undefined, warn: keep, error: keep };
}

/** Overwrites bytes of a file at an offset. */
function overwrite(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function readByte(path: string, offset: number): number {
  const fd = openSync(path, 'r');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    return byte[0] as number;
  } finally {
    closeSync(fd);
  }
}

beforeEach(() => {
  temp = makeTempDir('packs');
  storeDir = join(temp.dir, 'store');
});

afterEach(async () => {
  for (const store of openStores.splice(0)) await store.close();
  temp.remove();
});

describe('DatasetStore with packBlobs', () => {
  it('stores a snapshot in one pack', async () => {
    const store = await openStore();
    const samples = makeSamples(10, 0);
    await store.createSnapshot({ note: 'packed', samples });
    expect(countBlobFiles(storeDir)).toBe(0);
    expect(Object.keys(packFileSizes(storeDir))).toEqual(['00000001.pack']);
    expect(existsSync(join(storeDir, 'staging'))).toBe(false);
    await expectBytesRead(store, samples);
    await store.close();
    expect(readPackedBlobs(storeDir)).toHaveLength(20);
    expect(readCommittedPackBytes(storeDir)).toEqual(packFileSizes(storeDir));
  });

  it('matches the loose layout', async () => {
    const samples = Array.from({ length: 24 }, (_, i) => makeSample({ seed: i, recording: `run-${i % 5}`, tags: i % 2 === 0 ? ['night'] : [] }));
    const loose = await openStore({ packBlobs: false }, join(temp.dir, 'loose'));
    const packed = await openStore();
    for (const [note, batch] of [['round 1', samples.slice(0, 15)], ['round 2', samples.slice(15)]] as const) {
      const fromLoose = await loose.createSnapshot({ note, samples: batch });
      const fromPacks = await packed.createSnapshot({ note, samples: batch });
      expect(fromPacks.manifestHash).toBe(fromLoose.manifestHash);
      expect(fromPacks.stats).toEqual(fromLoose.stats);
      expect(fromPacks.added).toBe(fromLoose.added);
    }
    expect([...packed.samples('latest')]).toEqual([...loose.samples('latest')]);
    await expectBytesRead(packed, samples);
    expect(countBlobFiles(join(temp.dir, 'loose'))).toBe(48);
    expect(countBlobFiles(storeDir)).toBe(0);
  });

  it('stores identical blobs once', async () => {
    const store = await openStore();
    const first = makeSample({ seed: 1, recording: 'run-a' });
    const second = makeSample({ seed: 1, recording: 'run-b' });
    await store.createSnapshot({ note: 'two sources', samples: [first, second, makeSample({ seed: 2 })] });
    const sizes = packFileSizes(storeDir);
    const again = await store.createSnapshot({ note: 'same again', samples: [makeSample({ seed: 1, recording: 'run-c' })] });
    expect(again.added).toBe(0);
    expect(packFileSizes(storeDir)).toEqual(sizes);
    expect(store.lineage(first.record.id)).toHaveLength(3);
    await store.close();
    expect(readPackedBlobs(storeDir)).toHaveLength(4);
  });

  it('writes no loose copy of packed blobs', async () => {
    const packed = makeSamples(3, 0);
    const store = await openStore();
    await store.createSnapshot({ note: 'packed', samples: packed });
    await store.close();

    const loose = await openStore({ packBlobs: false });
    const fresh = makeSamples(2, 100);
    // Seeds 0 and 1 are packed already, so seeing them again in another recording adds no blobs.
    const seenAgain = [makeSample({ seed: 0, recording: 'run-b' }), makeSample({ seed: 1, recording: 'run-b' })];
    const manifest = await loose.createSnapshot({ note: 'loose', samples: [...seenAgain, ...fresh] });
    expect(manifest.added).toBe(2);
    expect(countBlobFiles(storeDir)).toBe(4);
    await expectBytesRead(loose, [...packed, ...fresh]);
  });

  it('appends later snapshots to the pack', async () => {
    const store = await openStore();
    await store.createSnapshot({ note: 'round 1', samples: makeSamples(4, 0) });
    const afterFirst = packFileSizes(storeDir)['00000001.pack'] as number;
    await store.close();
    const reopened = await openStore();
    const later = makeSamples(4, 100);
    await reopened.createSnapshot({ note: 'round 2', samples: later });
    const sizes = packFileSizes(storeDir);
    expect(Object.keys(sizes)).toEqual(['00000001.pack']);
    expect(sizes['00000001.pack']).toBeGreaterThan(afterFirst);
    await expectBytesRead(reopened, [...makeSamples(4, 0), ...later]);
  });

  it('truncates the pack on abort', async () => {
    const store = await openStore();
    await store.createSnapshot({ note: 'round 1', samples: makeSamples(3, 0) });
    await store.close();
    const before = readStoreState(storeDir);
    const sizes = packFileSizes(storeDir);

    const reopened = await openStore();
    const builder = reopened.beginSnapshot({ note: 'dropped' });
    for (const sample of makeSamples(5, 100)) await builder.add(sample.record, sample);
    await builder.abort();
    await reopened.close();
    expect(packFileSizes(storeDir)).toEqual(sizes);
    expect(readStoreState(storeDir)).toEqual(before);
  });

  it('rolls back the pack on index failure', async () => {
    const store = await openStore();
    await store.createSnapshot({ note: 'seed', samples: makeSamples(3, 0) });
    await store.close();
    const before = readStoreState(storeDir);
    const sizes = packFileSizes(storeDir);
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.exec("CREATE TRIGGER fail_insert BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'disk quota reached'); END");
    db.close();

    const reopened = await openStore();
    const error = await errorOf(reopened.createSnapshot({ note: 'fails', samples: makeSamples(3, 100) }));
    expect(error.code).toBe('write-failed');
    expect(error.message).toContain('disk quota reached');
    await reopened.close();
    expect(packFileSizes(storeDir)).toEqual(sizes);
    expect(readStoreState(storeDir)).toEqual(before);
    expect(readPackedBlobs(storeDir)).toHaveLength(6);
  });

  it('removes a new pack on failure', async () => {
    const store = await openStore();
    await store.close();
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.exec("CREATE TRIGGER fail_insert BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'disk quota reached'); END");
    db.close();

    const reopened = await openStore();
    await expect(reopened.createSnapshot({ note: 'fails', samples: makeSamples(2, 0) })).rejects.toThrow(/disk quota reached/);
    expect(packFileSizes(storeDir)).toEqual({});
    await reopened.close();
    expect(readPackedBlobs(storeDir)).toEqual([]);
  });
});

describe('SnapshotBuilder.add with verified hashes', () => {
  it.each([true, false])('stores the sample with packBlobs %s', async (packBlobs) => {
    const store = await openStore({ packBlobs });
    const samples = makeSamples(3, 0);
    const builder = store.beginSnapshot({ note: 'verified' });
    for (const sample of samples) {
      await builder.add(sample.record, sample, { verifiedSha256: { image: sample.record.imageSha256, input: sample.record.inputSha256 } });
    }
    const manifest = await builder.commit();
    expect(manifest.stats.samples).toBe(3);
    await expectBytesRead(store, samples);
  });

  it('rejects a verified pair that differs from the record', async () => {
    const store = await openStore();
    const sample = makeSample({ seed: 1 });
    const swapped = { image: sample.record.inputSha256, input: sample.record.imageSha256 };
    const builder = store.beginSnapshot({ note: 'swapped' });
    const error = await errorOf(builder.add(sample.record, sample, { verifiedSha256: swapped }));
    expect(error.code).toBe('invalid-sample');
    expect(error.message).toContain(`input verified hash is ${sample.record.imageSha256}, not inputSha256 ${sample.record.inputSha256}`);
    expect(error.message).toContain(`image verified hash is ${sample.record.inputSha256}, not imageSha256 ${sample.record.imageSha256}`);
    expect(error.message).toContain('Nothing was written');
    await builder.abort();
    expect(packFileSizes(storeDir)).toEqual({});
  });

  it('still hashes the bytes without verified hashes', async () => {
    const store = await openStore();
    const sample = makeSample({ seed: 1 });
    const corrupted = { ...sample, input: sample.input.map((byte) => byte ^ 1) };
    const builder = store.beginSnapshot({ note: 'corrupted' });
    const error = await errorOf(builder.add(sample.record, corrupted));
    expect(error.code).toBe('invalid-sample');
    expect(error.message).toMatch(/input bytes hash to [0-9a-f]{64}, not inputSha256/);
    await builder.abort();
  });
});

describe('DatasetStore reading old stores', () => {
  /** Writes a store as fieldloop did before packs: loose blobs, schema version 1. */
  async function writeVersion1Store(samples: NewSample[]): Promise<void> {
    const store = await DatasetStore.open(storeDir, { fsync: false });
    await store.createSnapshot({ note: 'written before packs', samples });
    await store.close();
    downgradeToVersion1();
  }

  it('reads a version 1 store read-only', async () => {
    const samples = makeSamples(6, 0);
    await writeVersion1Store(samples);
    const before = readStoreState(storeDir);
    const reader = await openStore({ readOnly: true });
    expect(reader.listSnapshots()).toHaveLength(1);
    await expectBytesRead(reader, samples);
    await reader.close();
    expect(readStoreState(storeDir)).toEqual(before);
    expect(userVersion()).toBe(1);
  });

  it('converts a version 1 store at a loose commit without writing pack files', async () => {
    await writeVersion1Store(makeSamples(2, 0));
    const store = await openStore({ packBlobs: false });
    expect(userVersion()).toBe(1);
    const manifest = await store.createSnapshot({ note: 'loose again', samples: makeSamples(2, 100) });
    expect(manifest.stats.samples).toBe(4);
    expect([...store.samples(manifest.version)]).toHaveLength(4);
    await store.close();
    expect(userVersion()).toBe(SCHEMA_VERSION);
    expect(packFileSizes(storeDir)).toEqual({});
  });

  it('adds packs to a version 1 store', async () => {
    const old = makeSamples(6, 0);
    await writeVersion1Store(old);
    const looseFiles = countBlobFiles(storeDir);
    const store = await openStore();
    await expectBytesRead(store, old);
    expect(userVersion()).toBe(1);

    // Two old samples again, seen in a new recording, plus new ones: only the new blobs are packed.
    const seenAgain = [makeSample({ seed: 0, recording: 'run-b' }), makeSample({ seed: 1, recording: 'run-b' })];
    const fresh = makeSamples(3, 100);
    const manifest = await store.createSnapshot({ note: 'first packed round', samples: [...seenAgain, ...fresh] });
    expect(manifest.added).toBe(3);
    expect(manifest.stats.samples).toBe(9);
    await expectBytesRead(store, [...old, ...fresh]);
    await store.close();

    expect(userVersion()).toBe(SCHEMA_VERSION);
    expect(countBlobFiles(storeDir)).toBe(looseFiles);
    expect(readPackedBlobs(storeDir)).toHaveLength(6);
    const reader = await openStore({ readOnly: true });
    await expectBytesRead(reader, [...old, ...fresh]);
  });

  it('rolls back the first pack of a version 1 store', async () => {
    await writeVersion1Store(makeSamples(2, 0));
    const before = readStoreState(storeDir);
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.exec("CREATE TRIGGER fail_insert BEFORE INSERT ON snapshots BEGIN SELECT RAISE(ABORT, 'disk quota reached'); END");
    db.close();

    const store = await openStore();
    await expect(store.createSnapshot({ note: 'fails', samples: makeSamples(2, 100) })).rejects.toThrow(/disk quota reached/);
    expect(userVersion()).toBe(1);
    const db2 = new Database(join(storeDir, 'index.sqlite'));
    db2.exec('DROP TRIGGER fail_insert');
    db2.close();
    const retried = makeSamples(2, 100);
    await store.createSnapshot({ note: 'works', samples: retried });
    await expectBytesRead(store, retried);
    await store.close();
    expect(readStoreState(storeDir).blobs).toEqual(before.blobs);
    expect(userVersion()).toBe(SCHEMA_VERSION);
  });
});

describe('DatasetStore pack recovery', () => {
  it('truncates a torn pack tail', async () => {
    const samples = makeSamples(5, 0);
    const store = await openStore();
    await store.createSnapshot({ note: 'round 1', samples });
    await store.close();
    const sizes = packFileSizes(storeDir);
    const packPath = join(storeDir, 'packs', '00000001.pack');
    // Half a record: a header and some of its bytes, as a writer killed in the middle leaves it.
    appendFileSync(packPath, Buffer.alloc(1000, 0xab));

    const reader = await openStore({ readOnly: true });
    await expectBytesRead(reader, samples);
    await reader.close();
    expect(packFileSizes(storeDir)['00000001.pack']).toBe((sizes['00000001.pack'] as number) + 1000);

    const log = recordingLogger();
    const writer = await openStore({ log });
    expect(packFileSizes(storeDir)).toEqual(sizes);
    expect(log.messages).toEqual(['truncated the uncommitted tail of a pack file, left by a writer that stopped']);
    const later = makeSamples(3, 100);
    await writer.createSnapshot({ note: 'round 2', samples: later });
    await expectBytesRead(writer, [...samples, ...later]);
    await writer.close();
    expect(readCommittedPackBytes(storeDir)).toEqual(packFileSizes(storeDir));
  });

  it('removes a pack that no commit recorded', async () => {
    const store = await openStore();
    await store.createSnapshot({ note: 'round 1', samples: makeSamples(2, 0) });
    await store.close();
    const sizes = packFileSizes(storeDir);
    appendFileSync(join(storeDir, 'packs', '00000002.pack'), 'FLDPACK1 and a partial record');

    const log = recordingLogger();
    await (await openStore({ log })).close();
    expect(packFileSizes(storeDir)).toEqual(sizes);
    expect(log.messages).toEqual(['removed a pack file that no commit recorded, left by a writer that stopped']);
  });
});

describe('DatasetStore damaged packs', () => {
  let samples: NewSample[];
  let packPath: string;

  beforeEach(async () => {
    samples = makeSamples(4, 0);
    const store = await openStore();
    await store.createSnapshot({ note: 'round 1', samples });
    await store.close();
    packPath = join(storeDir, 'packs', '00000001.pack');
  });

  function entryOf(sha256: string): { offset: number; length: number } {
    const entry = readPackedBlobs(storeDir).find((row) => row.sha256 === sha256);
    if (entry === undefined) throw new Error(`No pack entry for ${sha256}`);
    return entry;
  }

  it('names the store, blob and fix', async () => {
    const { record } = samples[1]!;
    const { offset } = entryOf(record.inputSha256);
    overwrite(packPath, offset + 2, Buffer.from([readByte(packPath, offset + 2) ^ 0xff]));

    const store = await openStore({ readOnly: true });
    const error = await errorOf(store.readInput(record));
    expect(error.code).toBe('blob-corrupted');
    expect(error.message).toContain(`store ${storeDir}`);
    expect(error.message).toContain(record.id);
    expect(error.message).toContain(record.inputSha256);
    expect(error.message).toContain(`pack ${packPath} at offset ${offset}`);
    expect(error.message).toMatch(/its bytes hash to [0-9a-f]{64}/);
    expect(error.message).toContain(`Restore ${packPath} from a backup`);
    expect(error.message).toContain(`DELETE FROM packed_blobs WHERE sha256 = '${record.inputSha256}'`);
    await expectBytesRead(store, [samples[0]!, samples[2]!, samples[3]!]);
  });

  it('repairs by following the fix', async () => {
    const sample = samples[1]!;
    const { offset } = entryOf(sample.record.imageSha256);
    overwrite(packPath, offset, Buffer.from([readByte(packPath, offset) ^ 0xff]));
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.prepare('DELETE FROM packed_blobs WHERE sha256 = ?').run(sample.record.imageSha256);
    db.close();

    const store = await openStore();
    expect((await errorOf(store.readImage(sample.record))).code).toBe('blob-missing');
    await store.createSnapshot({ note: 'ingested again', samples: [sample] });
    await expectBytesRead(store, samples);
  });

  it('detects a record header mismatch', async () => {
    const [first, second] = [samples[0]!.record, samples[1]!.record];
    const entry = entryOf(first.inputSha256);
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.prepare('UPDATE packed_blobs SET offset = ? WHERE sha256 = ?').run(entryOf(second.inputSha256).offset, first.inputSha256);
    db.close();

    const store = await openStore({ readOnly: true });
    const error = await errorOf(store.readInput(first));
    expect(error.code).toBe('blob-corrupted');
    expect(error.message).toContain(`the record header names blob ${second.inputSha256}`);
    expect(entry.length).toBe(first.width * first.height * 3);
  });

  it('detects a pack cut short', async () => {
    const last = samples.map((sample) => sample.record).sort((a, b) => entryOf(b.imageSha256).offset - entryOf(a.imageSha256).offset)[0]!;
    const { offset, length } = entryOf(last.imageSha256);
    truncateSync(packPath, offset + length - 5);

    const store = await openStore({ readOnly: true });
    const error = await errorOf(store.readImage(last));
    expect(error.code).toBe('blob-corrupted');
    expect(error.message).toContain('the pack ends 5 bytes before the end of the blob');
  });

  it('writes no more to a cut pack', async () => {
    truncateSync(packPath, 100);
    const log = recordingLogger();
    const store = await openStore({ log });
    expect(log.messages).toEqual([
      'pack file is shorter than its committed length, so the blobs after its end cannot be read until it is restored',
    ]);
    const later = makeSamples(2, 100);
    await store.createSnapshot({ note: 'round 2', samples: later });
    expect(Object.keys(packFileSizes(storeDir))).toEqual(['00000001.pack', '00000002.pack']);
    expect(packFileSizes(storeDir)['00000001.pack']).toBe(100);
    await expectBytesRead(store, later);
    expect((await errorOf(store.readImage(samples[3]!.record))).code).toBe('blob-corrupted');
  });

  it('reports a missing pack file', async () => {
    renameSync(packPath, `${packPath}.moved`);
    const store = await openStore({ readOnly: true });
    const error = await errorOf(store.readInput(samples[0]!.record));
    expect(error.code).toBe('blob-missing');
    expect(error.message).toContain(`its pack ${packPath} does not exist`);
    expect(error.message).toContain(storeDir);
  });
});
