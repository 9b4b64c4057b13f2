import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MAX_LABEL_VALUES_PER_HEAD, type SnapshotStats } from '@fieldloop/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DatasetStore,
  DatasetStoreError,
  DEFAULT_SPLIT_RATIOS,
  SCHEMA_VERSION,
  type DatasetStoreOptions,
  type NewSample,
} from '../src/index.ts';
import { makeSample, makeSamples, type SampleSpec } from './helpers/sample-fixtures.ts';
import { countBlobFiles, makeTempDir, readStoreState } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let storeDir: string;
const openStores: DatasetStore[] = [];

async function openStore(options: DatasetStoreOptions = {}, dir = storeDir): Promise<DatasetStore> {
  const store = await DatasetStore.open(dir, { fsync: false, ...options });
  openStores.push(store);
  return store;
}

async function errorOf(promise: Promise<unknown> | (() => unknown)): Promise<DatasetStoreError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (error instanceof DatasetStoreError) return error;
    throw error;
  }
  throw new Error('Expected a DatasetStoreError, but nothing was thrown.');
}

function countRows(table: string): number {
  const db = new Database(join(storeDir, 'index.sqlite'), { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

beforeEach(() => {
  temp = makeTempDir('store');
  storeDir = join(temp.dir, 'store');
});

afterEach(async () => {
  for (const store of openStores.splice(0)) await store.close();
  temp.remove();
});

describe('DatasetStore.open', () => {
  it('creates a new store', async () => {
    const store = await openStore();
    expect(existsSync(join(storeDir, 'index.sqlite'))).toBe(true);
    expect(existsSync(join(storeDir, 'lock'))).toBe(true);
    expect(store.listSnapshots()).toEqual([]);
    expect(store.latestSnapshot()).toBeNull();
    expect(store.splitRatios).toEqual(DEFAULT_SPLIT_RATIOS);
    await store.close();
    expect(existsSync(join(storeDir, 'lock'))).toBe(false);
  });

  it('uses WAL mode and the schema version', async () => {
    await (await openStore()).close();
    const db = new Database(join(storeDir, 'index.sqlite'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('rejects a store with a newer schema', async () => {
    await (await openStore()).close();
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const error = await errorOf(openStore());
    expect(error.code).toBe('schema-too-new');
    expect(error.message).toContain(storeDir);
    expect(error.message).toContain('Upgrade fieldloop');
    expect(existsSync(join(storeDir, 'lock'))).toBe(false);
  });

  it('rejects a directory with other files', async () => {
    mkdirSync(storeDir);
    writeFileSync(join(storeDir, 'notes.txt'), 'not a store');
    const error = await errorOf(openStore());
    expect(error.code).toBe('not-a-store');
    expect(error.message).toContain('notes.txt');
    expect(existsSync(join(storeDir, 'lock'))).toBe(false);
  });

  it('rejects a path that is a file', async () => {
    writeFileSync(storeDir, 'a file, not a store');
    const error = await errorOf(openStore());
    expect(error.code).toBe('not-a-store');
    expect(error.message).toMatch(/is a file and not a directory\. Choose another store path/);
    expect(readFileSync(storeDir, 'utf8')).toBe('a file, not a store');
  });

  it('rejects an index of another application', async () => {
    mkdirSync(storeDir);
    const db = new Database(join(storeDir, 'index.sqlite'));
    db.exec('CREATE TABLE other (x INTEGER)');
    db.close();
    const error = await errorOf(openStore());
    expect(error.code).toBe('not-a-store');
    expect(error.message).toMatch(/not the index of a fieldloop data set store/);
  });

  it('rejects a missing store when read-only', async () => {
    const error = await errorOf(openStore({ readOnly: true }));
    expect(error.code).toBe('not-a-store');
    expect(existsSync(storeDir)).toBe(false);
  });

  it('rejects a second writer in one process', async () => {
    await openStore();
    const error = await errorOf(openStore());
    expect(error.code).toBe('locked');
    expect(error.message).toContain(`process ${process.pid}`);
    expect(error.message).toContain('close that DatasetStore first');
  });

  it('rejects ratios that differ from stored', async () => {
    await (await openStore({ splitRatios: { train: 0.6, val: 0.2, test: 0.2 } })).close();
    const error = await errorOf(openStore({ splitRatios: DEFAULT_SPLIT_RATIOS }));
    expect(error.code).toBe('split-ratios-mismatch');
    expect(error.message).toContain('setSplitRatios');
    const reopened = await openStore({ splitRatios: { train: 0.6, val: 0.2, test: 0.2 } });
    expect(reopened.splitRatios).toEqual({ train: 0.6, val: 0.2, test: 0.2 });
  });

  it('rejects invalid split ratios', async () => {
    await expect(openStore({ splitRatios: { train: 0.5, val: 0.5, test: 0.5 } })).rejects.toThrow(/sum to 1\.5/);
  });
});

describe('DatasetStore snapshots', () => {
  it('stores identical samples once', async () => {
    const store = await openStore();
    const first = makeSample({ seed: 1, recording: 'run-a' });
    const second = makeSample({ seed: 1, recording: 'run-b' });
    expect(second.record.id).toBe(first.record.id);

    const manifest = await store.createSnapshot({ note: 'two sources', samples: [first, second] });
    expect(manifest.added).toBe(1);
    expect(manifest.stats.samples).toBe(1);
    expect([...store.samples(1)].length).toBe(1);
    expect(store.lineage(first.record.id).map((sighting) => sighting.source.recording)).toEqual(['run-a', 'run-b']);
    expect(countBlobFiles(storeDir)).toBe(2);

    const third = makeSample({ seed: 1, recording: 'run-c' });
    const again = await store.createSnapshot({ note: 'third source', samples: [third] });
    expect(again.added).toBe(0);
    expect(store.lineage(first.record.id)).toHaveLength(3);
    expect(store.lineage(first.record.id)[2]?.firstVersion).toBe(2);
    expect(countBlobFiles(storeDir)).toBe(2);
    await store.close();
    expect(countRows('samples')).toBe(1);
    expect(countRows('lineage')).toBe(3);
  });

  it('keeps a re-encoded image in lineage', async () => {
    const store = await openStore();
    const png = makeSample({ seed: 5, recording: 'run-a' });
    const reencoded = makeSample({ seed: 5, recording: 'run-b', imageVariant: 'metadata' });
    expect(reencoded.record.id).toBe(png.record.id);
    await store.createSnapshot({ note: 'two encodings', samples: [png, reencoded] });
    const [sample] = [...store.samples(1)];
    expect(sample?.imageSha256).toBe(png.record.imageSha256);
    expect(store.lineage(png.record.id).map((sighting) => sighting.imageSha256)).toEqual([
      png.record.imageSha256,
      reencoded.record.imageSha256,
    ]);
    expect(countBlobFiles(storeDir)).toBe(3);
  });

  it('numbers versions and chains parents', async () => {
    const store = await openStore();
    const v1 = await store.createSnapshot({ note: 'round 1', samples: makeSamples(3, 0), parent: null });
    const v2 = await store.createSnapshot({ note: 'round 2', samples: makeSamples(2, 100) });
    const v3 = await store.createSnapshot({ note: 'branch', samples: makeSamples(1, 200), parent: 1 });
    const v4 = await store.createSnapshot({ note: 'fresh', samples: makeSamples(2, 300), parent: null });

    expect([v1.version, v2.version, v3.version, v4.version]).toEqual([1, 2, 3, 4]);
    expect(v1.parentHash).toBeNull();
    expect(v2.parentHash).toBe(v1.manifestHash);
    expect(v3.parentHash).toBe(v1.manifestHash);
    expect(v4.parentHash).toBeNull();
    expect([v1.stats.samples, v2.stats.samples, v3.stats.samples, v4.stats.samples]).toEqual([3, 5, 4, 2]);
    expect([v1.added, v2.added, v3.added, v4.added]).toEqual([3, 2, 1, 2]);
    expect(store.listSnapshots().map((manifest) => manifest.note)).toEqual(['round 1', 'round 2', 'branch', 'fresh']);
    expect(store.getSnapshot(2)).toEqual(v2);
  });

  it('records a round that adds nothing', async () => {
    const store = await openStore();
    const samples = makeSamples(4, 0);
    const v1 = await store.createSnapshot({ note: 'round 1', samples });
    const v2 = await store.createSnapshot({ note: 'same data again', samples });
    expect(v2.version).toBe(2);
    expect(v2.added).toBe(0);
    expect(v2.stats).toEqual(v1.stats);
    expect(v2.manifestHash).not.toBe(v1.manifestHash);
    expect([...store.samples(2)].map((sample) => sample.id)).toEqual([...store.samples(1)].map((sample) => sample.id));
    await store.close();
    expect(countRows('lineage')).toBe(4);
  });

  it('rejects a duplicate snapshot', async () => {
    const store = await openStore();
    const samples = makeSamples(3, 0);
    const v1 = await store.createSnapshot({ note: 'fresh', samples, parent: null });
    await store.close();
    const before = readStoreState(storeDir);

    const reopened = await openStore();
    const error = await errorOf(reopened.createSnapshot({ note: 'fresh again', samples, parent: null }));
    expect(error.code).toBe('snapshot-exists');
    expect(error.message).toContain(v1.manifestHash);
    await reopened.close();
    expect(readStoreState(storeDir)).toEqual(before);
  });

  it('hashes manifests independently of order', async () => {
    const samples = Array.from({ length: 20 }, (_, i) => makeSample({ seed: i, recording: `run-${i % 5}` }));
    const shuffled = [...samples].sort((a, b) => (a.record.imageSha256 < b.record.imageSha256 ? -1 : 1));
    expect(shuffled.map((s) => s.record.id)).not.toEqual(samples.map((s) => s.record.id));

    const forward = await openStore();
    const reverse = await openStore({}, join(temp.dir, 'reverse'));
    const reordered = await openStore({}, join(temp.dir, 'reordered'));
    const a = await forward.createSnapshot({ note: 'a', samples });
    const b = await reverse.createSnapshot({ note: 'b', samples: [...samples].reverse() });
    const c = await reordered.createSnapshot({ note: 'c', samples: shuffled });
    expect(b.manifestHash).toBe(a.manifestHash);
    expect(c.manifestHash).toBe(a.manifestHash);
    expect(JSON.stringify(b.stats)).toBe(JSON.stringify(a.stats));

    const lines = [...forward.samples(1)].map((sample) => `${sample.id}:${sample.split}\n`).sort();
    const expected = createHash('sha256').update(`${lines.join('')}parent:\n`).digest('hex');
    expect(a.manifestHash).toBe(expected);
  });
});

describe('DatasetStore splits', () => {
  it('keeps every split when ratios change', async () => {
    const store = await openStore();
    const oldKeys = Array.from({ length: 30 }, (_, i) => `run-${i}`);
    const round1 = oldKeys.map((key, i) => makeSample({ seed: i, recording: key }));
    await store.createSnapshot({ note: 'round 1', samples: round1 });
    const splitOfKey = new Map([...store.samples(1)].map((sample) => [sample.splitKey, sample.split]));
    expect(new Set(splitOfKey.values()).size).toBeGreaterThan(1);

    store.setSplitRatios({ train: 0, val: 0, test: 1 });
    const sameKeys = oldKeys.map((key, i) => makeSample({ seed: 1000 + i, recording: key }));
    const newKeys = Array.from({ length: 10 }, (_, i) => makeSample({ seed: 2000 + i, recording: `new-run-${i}` }));
    await store.createSnapshot({ note: 'round 2', samples: [...sameKeys, ...newKeys] });

    const round2 = new Map([...store.samples(2)].map((sample) => [sample.id, sample]));
    for (const sample of [...round1, ...sameKeys]) {
      expect(round2.get(sample.record.id)?.split).toBe(splitOfKey.get(sample.record.splitKey));
    }
    for (const sample of newKeys) expect(round2.get(sample.record.id)?.split).toBe('test');

    await store.close();
    const reopened = await openStore();
    expect(reopened.splitRatios).toEqual({ train: 0, val: 0, test: 1 });
  });

  it('keeps a split under another key', async () => {
    const store = await openStore({ splitRatios: { train: 1, val: 0, test: 0 } });
    const original = makeSample({ seed: 7, recording: 'run-a' });
    await store.createSnapshot({ note: 'round 1', samples: [original] });
    store.setSplitRatios({ train: 0, val: 1, test: 0 });

    const reappeared = makeSample({ seed: 7, recording: 'run-b' });
    const sibling = makeSample({ seed: 8, recording: 'run-b' });
    await store.createSnapshot({ note: 'fresh chain', samples: [reappeared, sibling], parent: null });
    const splits = new Map([...store.samples(2)].map((sample) => [sample.id, sample.split]));
    expect(splits.get(original.record.id)).toBe('train');
    expect(splits.get(sibling.record.id)).toBe('val');
  });
});

describe('DatasetStore statistics', () => {
  const specs: SampleSpec[] = [
    { seed: 1, recording: 'run-a', labels: { terrain: 'grass', obstacle: true }, tags: ['night'] },
    { seed: 2, recording: 'run-a', labels: { terrain: 'grass', obstacle: false }, tags: ['night', 'rain'] },
    { seed: 3, recording: 'run-a', labels: { terrain: 'gravel' }, tags: [] },
    { seed: 4, recording: 'run-b', labels: { terrain: 'gravel', slope: 12 }, tags: ['rain'] },
    { seed: 5, recording: 'run-b', labels: { obstacle: true }, tags: [] },
  ];

  it('counts splits, labels, tags and sources', async () => {
    const store = await openStore({ splitRatios: { train: 1, val: 0, test: 0 } });
    const manifest = await store.createSnapshot({ note: 'stats', samples: specs.map((spec) => makeSample(spec)) });
    const expected: SnapshotStats = {
      samples: 5,
      perSplit: { train: 5, val: 0, test: 0 },
      perLabel: {
        obstacle: { false: 1, true: 2 },
        slope: { '12': 1 },
        terrain: { grass: 2, gravel: 2 },
      },
      perTag: { night: 2, rain: 2 },
      perSource: { 'run-a': 3, 'run-b': 2 },
    };
    expect(manifest.stats).toEqual(expected);
    expect(store.stats(1)).toEqual(expected);
  });

  it('bounds the distinct values counted per head', async () => {
    const store = await openStore();
    const steering = (seed: number): SampleSpec => ({ seed, labels: { steering: seed / 7, terrain: 'grass' } });
    const first = await store.createSnapshot({ note: 'first', samples: Array.from({ length: 700 }, (_, i) => makeSample(steering(i))) });
    expect(Object.keys(first.stats.perLabel.steering ?? {})).toHaveLength(700);
    expect(first.stats.perLabelOverflow).toBeUndefined();

    const second = await store.createSnapshot({ note: 'second', samples: Array.from({ length: 700 }, (_, i) => makeSample(steering(700 + i))) });
    expect(second.stats.samples).toBe(1400);
    expect(Object.keys(second.stats.perLabel.steering ?? {})).toHaveLength(MAX_LABEL_VALUES_PER_HEAD);
    expect(second.stats.perLabelOverflow).toEqual({ steering: 1400 - MAX_LABEL_VALUES_PER_HEAD });
    expect(second.stats.perLabel.terrain).toEqual({ grass: 1400 });
  });

  it('adds a round to its parent counts', async () => {
    const store = await openStore({ splitRatios: { train: 0, val: 0, test: 1 } });
    await store.createSnapshot({ note: 'round 1', samples: specs.slice(0, 3).map((spec) => makeSample(spec)) });
    store.setSplitRatios({ train: 0, val: 1, test: 0 });
    const duplicate = makeSample({ ...specs[0]!, recording: 'run-c' });
    const manifest = await store.createSnapshot({ note: 'round 2', samples: [...specs.slice(3).map((spec) => makeSample(spec)), duplicate] });
    expect(manifest.stats.samples).toBe(5);
    expect(manifest.stats.perSplit).toEqual({ train: 0, val: 2, test: 3 });
    expect(manifest.stats.perSource).toEqual({ 'run-a': 3, 'run-b': 2 });
    expect(manifest.stats.perTag).toEqual({ night: 2, rain: 2 });

    const recount = { train: 0, val: 0, test: 0 };
    for (const sample of store.samples(2)) recount[sample.split] += 1;
    expect(recount).toEqual(manifest.stats.perSplit);
  });
});

describe('DatasetStore reading', () => {
  let store: DatasetStore;
  let samples: NewSample[];

  beforeEach(async () => {
    store = await openStore({ splitRatios: { train: 0.5, val: 0.5, test: 0 } });
    samples = Array.from({ length: 12 }, (_, i) =>
      makeSample({ seed: i, recording: `run-${i % 4}`, tags: i % 3 === 0 ? ['night', 'rain'] : i % 3 === 1 ? ['night'] : [] }),
    );
    await store.createSnapshot({ note: 'round 1', samples: samples.slice(0, 8) });
    await store.createSnapshot({ note: 'round 2', samples: samples.slice(8) });
  });

  it('lists members in id order', () => {
    const ids = [...store.samples(2)].map((sample) => sample.id);
    expect(ids).toEqual(samples.map((sample) => sample.record.id).sort());
  });

  it('returns records equal to the added ones', () => {
    const byId = new Map([...store.samples('latest')].map((sample) => [sample.id, sample]));
    for (const { record } of samples) {
      const { split: _split, addedIn: _addedIn, ...stored } = byId.get(record.id)!;
      expect(stored).toEqual(record);
    }
  });

  it('filters by split, tags and version', () => {
    const all = [...store.samples(2)];
    const val = [...store.samples(2, { split: 'val' })];
    expect(val.length).toBeGreaterThan(0);
    expect(val.every((sample) => sample.split === 'val')).toBe(true);
    expect(val.length).toBe(all.filter((sample) => sample.split === 'val').length);

    expect([...store.samples(2, { tags: ['night'] })]).toHaveLength(8);
    expect([...store.samples(2, { tags: ['night', 'rain'] })]).toHaveLength(4);

    const added = [...store.samples(2, { addedIn: 2 })].map((sample) => sample.id).sort();
    expect(added).toEqual(samples.slice(8).map((sample) => sample.record.id).sort());
    expect([...store.samples(1, { addedIn: 2 })]).toHaveLength(0);
  });

  it('allows other calls while iterating', async () => {
    let read = 0;
    for (const sample of store.samples(2)) {
      expect(store.getSnapshot(1).version).toBe(1);
      read += (await store.readInput(sample)).length;
    }
    expect(read).toBe(12 * 4 * 3 * 3);
  });

  it('reads input and image bytes back', async () => {
    const sample = samples[3]!;
    expect((await store.readInput(sample.record)).equals(Buffer.from(sample.input))).toBe(true);
    expect((await store.readImage(sample.record)).equals(Buffer.from(sample.image))).toBe(true);
  });

  it('finds snapshots by version, hash and latest', () => {
    const second = store.getSnapshot(2);
    expect(store.getSnapshot(second.manifestHash)).toEqual(second);
    expect(store.getSnapshot('latest')).toEqual(second);
    expect(store.latestSnapshot()).toEqual(second);
  });

  it('reports a missing snapshot', async () => {
    const error = await errorOf(() => store.getSnapshot(7));
    expect(error.code).toBe('snapshot-not-found');
    expect(error.message).toContain('versions are 1 to 2');
    expect((await errorOf(() => store.samples(0))).code).toBe('snapshot-not-found');
    expect((await errorOf(() => store.getSnapshot('abc'))).code).toBe('snapshot-not-found');
    expect((await errorOf(() => store.beginSnapshot({ note: 'x', parent: 9 }))).code).toBe('snapshot-not-found');
  });

  it('reports an unknown sample in lineage', async () => {
    const error = await errorOf(() => store.lineage('0'.repeat(64)));
    expect(error.code).toBe('sample-not-found');
  });

  it('hasSample tells stored ids from unknown ones', async () => {
    const stored = [...store.samples('latest')][0];
    expect(stored).toBeDefined();
    expect(store.hasSample(stored!.id)).toBe(true);
    expect(store.hasSample('0'.repeat(64))).toBe(false);
  });

  it('reading runs lookups in one transaction', async () => {
    const stored = [...store.samples('latest')][0];
    const found = store.reading(() => [store.hasSample(stored!.id), store.hasSample('0'.repeat(64))]);
    expect(found).toEqual([true, false]);
    // The transaction ended, so a snapshot can be committed afterwards.
    await store.createSnapshot({ note: 'after reading', samples: makeSamples(1, 900) });
    expect(store.hasSample(makeSamples(1, 900)[0]!.record.id)).toBe(true);
  });

  it('detects a corrupted blob', async () => {
    const { record } = samples[2]!;
    const path = join(storeDir, 'blobs', record.inputSha256.slice(0, 2), record.inputSha256.slice(2));
    writeFileSync(path, Buffer.alloc(record.width * record.height * 3));
    const error = await errorOf(store.readInput(record));
    expect(error.code).toBe('blob-corrupted');
    expect(error.message).toContain(record.id);
    expect(error.message).toContain(record.inputSha256);
    expect(error.message).toContain(path);
  });

  it('reports a missing blob', async () => {
    const { record } = samples[2]!;
    const error = await errorOf(store.readImage({ ...record, imageSha256: 'f'.repeat(64) }));
    expect(error.code).toBe('blob-missing');
    expect(error.message).toContain(record.id);
  });

  it('reads from a read-only store', async () => {
    const reader = await openStore({ readOnly: true });
    expect(reader.listSnapshots()).toHaveLength(2);
    expect([...reader.samples(2)]).toHaveLength(12);
    const error = await errorOf(() => reader.beginSnapshot({ note: 'x' }));
    expect(error.code).toBe('read-only');
  });
});

describe('DatasetStore input checks', () => {
  it.each([
    ['input hash mismatch', (s: NewSample) => ({ ...s, input: s.input.map((byte) => byte ^ 1) }), /input bytes hash to/],
    ['image hash mismatch', (s: NewSample) => ({ ...s, image: new Uint8Array([1, 2, 3]) }), /image bytes hash to/],
    ['unsorted tags', (s: NewSample) => ({ ...s, record: { ...s.record, tags: ['rain', 'night'] } }), /sorted and unique/],
    ['wrong size', (s: NewSample) => ({ ...s, record: { ...s.record, width: 5 } }), /width 5 x height 3/],
    ['bad log time', (s: NewSample) => ({ ...s, record: { ...s.record, source: { ...s.record.source, logTimeNs: '-5' } } }), /logTimeNs/],
    ['bad id', (s: NewSample) => ({ ...s, record: { ...s.record, id: 'sample-1' } }), /id must be 64 lowercase hex/],
    ['bad label', (s: NewSample) => ({ ...s, record: { ...s.record, labels: { slope: Number.NaN } } }), /label "slope"/],
    ['empty split key', (s: NewSample) => ({ ...s, record: { ...s.record, splitKey: '' } }), /splitKey/],
  ])('rejects %s before writing', async (_name, corrupt, message) => {
    const store = await openStore();
    const builder = store.beginSnapshot({ note: 'checks' });
    const bad = corrupt(makeSample({ seed: 1 }));
    const error = await errorOf(builder.add(bad.record, bad));
    expect(error.code).toBe('invalid-sample');
    expect(error.message).toMatch(message);
    expect(error.message).toContain('Nothing was written');

    const good = makeSample({ seed: 2 });
    await builder.add(good.record, good);
    const manifest = await builder.commit();
    expect(manifest.stats.samples).toBe(1);
    expect(countBlobFiles(storeDir)).toBe(2);
  });

  it('rejects an id used by other content', async () => {
    const store = await openStore();
    const original = makeSample({ seed: 1, labels: { terrain: 'grass' } });
    await store.createSnapshot({ note: 'round 1', samples: [original] });
    const relabeled = makeSample({ seed: 1, labels: { terrain: 'sand' } });
    const forged = { ...relabeled, record: { ...relabeled.record, id: original.record.id } };

    const builder = store.beginSnapshot({ note: 'round 2' });
    const error = await errorOf(builder.add(forged.record, forged));
    expect(error.code).toBe('sample-conflict');
    expect(error.message).toContain(original.record.id);
    expect(error.message).toContain('labels {"terrain":"grass"} vs {"terrain":"sand"}');
    await builder.abort();
  });

  it('allows one snapshot builder at a time', async () => {
    const store = await openStore();
    const builder = store.beginSnapshot({ note: 'first' });
    const error = await errorOf(() => store.beginSnapshot({ note: 'second' }));
    expect(error.code).toBe('invalid-state');
    await builder.abort();
    const next = store.beginSnapshot({ note: 'after abort' });
    await next.abort();
  });

  it('rejects use after commit', async () => {
    const store = await openStore();
    const builder = store.beginSnapshot({ note: 'once' });
    await builder.commit();
    const sample = makeSample({ seed: 1 });
    const error = await errorOf(builder.add(sample.record, sample));
    expect(error.code).toBe('invalid-state');
    expect(error.message).toContain('committed');
  });
});
