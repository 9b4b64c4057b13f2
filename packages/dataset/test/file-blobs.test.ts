import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetStore, DatasetStoreError, type NewSample, type SampleFileBlobs } from '../src/index.ts';
import { readCommittedPackBytes, readPackedBlobs } from './helpers/pack-files.ts';
import { makeSample, makeSamples } from './helpers/sample-fixtures.ts';
import { makeTempDir } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let storeDir: string;
const openStores: DatasetStore[] = [];

async function openStore(): Promise<DatasetStore> {
  const store = await DatasetStore.open(storeDir, { fsync: false, packBlobs: true });
  openStores.push(store);
  return store;
}

/**
 * Writes the samples' blobs into one file the way a journal would: each image and input after a
 * few bytes of other data, so no blob starts at a record header. Returns where each blob lies.
 */
function writeJournalFile(path: string, samples: readonly NewSample[]): SampleFileBlobs[] {
  const parts: Buffer[] = [];
  let offset = 0;
  const place = (bytes: Uint8Array): { path: string; offset: number; length: number } => {
    const filler = Buffer.from('journal-record-header');
    parts.push(filler, Buffer.from(bytes));
    offset += filler.length;
    const blob = { path, offset, length: bytes.length };
    offset += bytes.length;
    return blob;
  };
  const blobs = samples.map((sample) => ({ image: place(sample.image), input: place(sample.input) }));
  writeFileSync(path, Buffer.concat(parts));
  return blobs;
}

function verified(sample: NewSample): { verifiedSha256: { image: string; input: string } } {
  return { verifiedSha256: { image: sample.record.imageSha256, input: sample.record.inputSha256 } };
}

async function commitFromFile(store: DatasetStore, samples: readonly NewSample[], blobs: readonly SampleFileBlobs[], note = 'from a file'): Promise<void> {
  const builder = store.beginSnapshot({ note });
  for (const [index, sample] of samples.entries()) await builder.add(sample.record, blobs[index]!, verified(sample));
  await builder.commit();
}

async function expectBytesRead(store: DatasetStore, samples: readonly NewSample[]): Promise<void> {
  for (const sample of samples) {
    expect((await store.readInput(sample.record)).equals(Buffer.from(sample.input))).toBe(true);
    expect((await store.readImage(sample.record)).equals(Buffer.from(sample.image))).toBe(true);
  }
}

function packNames(): string[] {
  const dir = join(storeDir, 'packs');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

beforeEach(() => {
  temp = makeTempDir('file-blobs');
  storeDir = join(temp.dir, 'store');
});

afterEach(async () => {
  for (const store of openStores.splice(0)) await store.close().catch(() => undefined);
  temp.remove();
});

describe('blobs added from files', () => {
  it('links the file in as a pack', async () => {
    const samples = makeSamples(3, 1);
    const source = join(temp.dir, 'segment.log');
    const blobs = writeJournalFile(source, samples);
    const store = await openStore();
    await commitFromFile(store, samples, blobs);
    await expectBytesRead(store, samples);

    const [name] = packNames();
    expect(packNames()).toHaveLength(1);
    const pack = statSync(join(storeDir, 'packs', name!));
    expect(pack.ino).toBe(statSync(source).ino);
    expect(pack.nlink).toBe(2);
    expect(readCommittedPackBytes(storeDir)).toEqual({ [name!]: pack.size });
    expect(readPackedBlobs(storeDir).map((row) => row.offset).sort((a, b) => a - b)).toEqual(
      blobs.flatMap((blob) => [blob.image.offset, blob.input.offset]).sort((a, b) => a - b),
    );

    // The writer may delete its own name, because the store keeps the file through its link.
    rmSync(source);
    await store.close();
    await expectBytesRead(await openStore(), samples);
  });

  it('requires verified hashes for blobs in files', async () => {
    const [sample] = makeSamples(1, 1);
    const [blobs] = writeJournalFile(join(temp.dir, 'segment.log'), [sample!]);
    const store = await openStore();
    const builder = store.beginSnapshot({ note: 'no hashes' });
    const error = await builder.add(sample!.record, blobs!).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DatasetStoreError);
    expect((error as DatasetStoreError).message).toContain('got its blobs as files but no verifiedSha256');
    await builder.abort();
    expect(packNames()).toEqual([]);
  });

  it('rejects a blob past the file end', async () => {
    const [sample] = makeSamples(1, 1);
    const source = join(temp.dir, 'segment.log');
    const [blobs] = writeJournalFile(source, [sample!]);
    const store = await openStore();
    const builder = store.beginSnapshot({ note: 'past the end' });
    const beyond = { ...blobs!, input: { ...blobs!.input, offset: statSync(source).size - 2 } };
    const error = await builder.add(sample!.record, beyond, verified(sample!)).catch((caught: unknown) => caught);
    expect((error as DatasetStoreError).code).toBe('write-failed');
    expect((error as Error).message).toContain('does not lie within');
    await builder.abort();
    // The roll-back removed the link, and the source file is untouched.
    expect(packNames()).toEqual([]);
    expect(statSync(source).nlink).toBe(1);
  });

  it('removes the link after a failed commit', async () => {
    const samples = makeSamples(2, 1);
    const store = await openStore();
    await commitFromFile(store, samples, writeJournalFile(join(temp.dir, 'first.log'), samples), 'first');
    const second = join(temp.dir, 'second.log');
    const blobs = writeJournalFile(second, samples);
    const bytes = readFileSync(second);
    // The same members on the same parent make a snapshot that exists, so this commit fails.
    const builder = store.beginSnapshot({ note: 'again', parent: null });
    for (const [index, sample] of samples.entries()) await builder.add(sample.record, blobs[index]!, verified(sample));
    expect(packNames()).toHaveLength(2);
    const error = await builder.commit().catch((caught: unknown) => caught);
    expect((error as DatasetStoreError).code).toBe('snapshot-exists');
    expect(packNames()).toHaveLength(1);
    expect(readFileSync(second).equals(bytes)).toBe(true);
    expect(statSync(second).nlink).toBe(1);
  });

  it('recovery removes an unrecorded link', async () => {
    const samples = makeSamples(2, 1);
    const source = join(temp.dir, 'segment.log');
    const blobs = writeJournalFile(source, samples);
    await (await openStore()).close();
    mkdirSync(join(storeDir, 'packs'), { recursive: true });
    // A process killed between the link and the commit leaves a pack file that no row names.
    linkSync(source, join(storeDir, 'packs', '00000001.pack'));

    const store = await openStore();
    expect(packNames()).toEqual([]);
    expect(statSync(source).nlink).toBe(1);
    await commitFromFile(store, samples, blobs);
    await expectBytesRead(store, samples);
  });

  it('detects corrupted bytes by their hash', async () => {
    const [sample] = makeSamples(1, 1);
    const source = join(temp.dir, 'segment.log');
    const [blobs] = writeJournalFile(source, [sample!]);
    const store = await openStore();
    await commitFromFile(store, [sample!], [blobs!]);
    const bytes = readFileSync(source);
    bytes[blobs!.input.offset] = (bytes[blobs!.input.offset]! + 1) % 256;
    writeFileSync(source, bytes);
    const error = await store.readInput(sample!.record).catch((caught: unknown) => caught);
    expect((error as DatasetStoreError).code).toBe('blob-corrupted');
    expect((error as Error).message).toContain('its bytes hash to');
  });

  it('never appends to a linked file', async () => {
    const samples = makeSamples(2, 1);
    const source = join(temp.dir, 'segment.log');
    await commitFromFile(await openStore(), samples, writeJournalFile(source, samples));
    const size = statSync(source).size;
    await openStores.pop()!.close();

    const store = await openStore();
    const later = makeSample({ seed: 9 });
    await store.createSnapshot({ note: 'bytes', samples: [later] });
    expect(statSync(source).size).toBe(size);
    expect(packNames()).toHaveLength(2);
    await expectBytesRead(store, [...samples, later]);
  });

  it('appends to the newest pack with magic', async () => {
    const store = await openStore();
    await store.createSnapshot({ note: 'bytes first', samples: [makeSample({ seed: 20 })] });
    const [nativePack] = packNames();
    const nativeSize = statSync(join(storeDir, 'packs', nativePack!)).size;
    const samples = makeSamples(2, 1);
    await commitFromFile(store, samples, writeJournalFile(join(temp.dir, 'segment.log'), samples));
    await store.close();
    openStores.pop();

    const reopened = await openStore();
    await reopened.createSnapshot({ note: 'bytes later', samples: [makeSample({ seed: 21 })] });
    expect(packNames()).toHaveLength(2);
    expect(statSync(join(storeDir, 'packs', nativePack!)).size).toBeGreaterThan(nativeSize);
  });

  const shm = '/dev/shm';
  const otherFileSystem = existsSync(shm) && statSync(shm).dev !== statSync(tmpdir()).dev;
  it.skipIf(!otherFileSystem)('copies a file from another file system (needs /dev/shm on its own file system)', async () => {
    const samples = makeSamples(2, 1);
    const dir = mkdtempSync(join(shm, 'fieldloop-file-blobs-'));
    try {
      const source = join(dir, 'segment.log');
      const store = await openStore();
      await commitFromFile(store, samples, writeJournalFile(source, samples));
      expect(statSync(source).nlink).toBe(1);
      const [name] = packNames();
      expect(readFileSync(join(storeDir, 'packs', name!)).subarray(0, 8).toString('ascii')).toBe('FLDPACK1');
      rmSync(dir, { recursive: true });
      await expectBytesRead(store, samples);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
