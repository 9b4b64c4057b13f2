import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '@fieldloop/contracts';
import { BlobError, LocalBlobStore } from '../src/index.ts';
import { makeTempDir } from './helpers/store-state.ts';

let temp: { dir: string; remove: () => void };
let store: LocalBlobStore;

function openStore(): LocalBlobStore {
  return new LocalBlobStore({ blobsDir: join(temp.dir, 'blobs'), stagingDir: join(temp.dir, 'staging') });
}

async function listAll(blobs: LocalBlobStore): Promise<string[]> {
  const hashes: string[] = [];
  for await (const sha256 of blobs.list()) hashes.push(sha256);
  return hashes.sort();
}

beforeEach(() => {
  temp = makeTempDir('blobs');
  store = openStore();
});

afterEach(() => temp.remove());

describe('LocalBlobStore', () => {
  it('stores a blob under its fan-out path', async () => {
    const bytes = Buffer.from('hello blob');
    const sha256 = await store.put(bytes);
    expect(sha256).toBe(sha256Hex(bytes));
    expect(existsSync(join(temp.dir, 'blobs', sha256.slice(0, 2), sha256.slice(2)))).toBe(true);
    expect(await store.has(sha256)).toBe(true);
    expect((await store.get(sha256)).equals(bytes)).toBe(true);
  });

  it('writes an existing blob only once', async () => {
    const sha256 = await store.put(Buffer.from('same'));
    const before = statSync(store.pathOf(sha256));
    expect(await store.put(Buffer.from('same'))).toBe(sha256);
    const after = statSync(store.pathOf(sha256));
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await listAll(store)).toEqual([sha256]);
  });

  it('lists and deletes blobs', async () => {
    const a = await store.put(Buffer.from('a'));
    const b = await store.put(Buffer.from('b'));
    expect(await listAll(store)).toEqual([a, b].sort());
    await store.delete(a);
    await store.delete(a);
    expect(await store.has(a)).toBe(false);
    expect(await listAll(store)).toEqual([b]);
  });

  it('lists nothing in a new directory', async () => {
    expect(await listAll(store)).toEqual([]);
  });

  it('rejects bytes that miss the expected hash', async () => {
    const wrong = sha256Hex(Buffer.from('other bytes'));
    const error = await store.put(Buffer.from('bytes'), wrong).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BlobError);
    expect((error as BlobError).code).toBe('hash-mismatch');
    expect(await listAll(store)).toEqual([]);
  });

  it('staging takes a verified hash without hashing', async () => {
    const bytes = Buffer.from('verified bytes');
    const staging = await store.beginStaging();
    expect(await staging.put(bytes, sha256Hex(bytes), { hashVerified: true })).toBe(sha256Hex(bytes));
    await staging.commit();
    expect((await store.get(sha256Hex(bytes))).equals(bytes)).toBe(true);
  });

  it('staging rejects a verified hash of the wrong form', async () => {
    const staging = await store.beginStaging();
    const error = await staging.put(Buffer.from('bytes'), '../../etc/passwd', { hashVerified: true }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BlobError);
    expect((error as BlobError).code).toBe('invalid-hash');
    await staging.abort();
    expect(await listAll(store)).toEqual([]);
  });

  it('rejects an invalid hash', async () => {
    await expect(store.get('ABC')).rejects.toThrow(/Invalid blob hash "ABC"/);
    await expect(store.has('../../etc/passwd')).rejects.toThrow(/64 lowercase hex digits/);
  });

  it('reports a missing blob', async () => {
    const sha256 = sha256Hex(Buffer.from('never stored'));
    const error = await store.get(sha256).catch((caught: unknown) => caught);
    expect((error as BlobError).code).toBe('not-found');
    expect((error as BlobError).message).toContain(sha256);
  });

  it('detects a corrupted blob', async () => {
    const sha256 = await store.put(Buffer.from('original'));
    writeFileSync(store.pathOf(sha256), 'tampered');
    const error = await store.get(sha256).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BlobError);
    expect((error as BlobError).code).toBe('corrupted');
    expect((error as BlobError).message).toContain(store.pathOf(sha256));
    expect((error as BlobError).message).toContain(sha256Hex(Buffer.from('tampered')));
  });
});

describe('LocalBlobStore staging', () => {
  it('hides staged blobs until commit', async () => {
    const staging = await store.beginStaging();
    const sha256 = await staging.put(Buffer.from('staged'));
    expect(await store.has(sha256)).toBe(false);
    expect(await listAll(store)).toEqual([]);
    await staging.commit();
    expect(await store.has(sha256)).toBe(true);
    expect(readdirSync(join(temp.dir, 'staging'))).toEqual([]);
  });

  it('discards staged blobs on abort', async () => {
    const preexisting = await store.put(Buffer.from('preexisting'));
    const staging = await store.beginStaging();
    await staging.put(Buffer.from('dropped'));
    await staging.put(Buffer.from('preexisting'));
    await staging.abort();
    expect(await listAll(store)).toEqual([preexisting]);
    expect(readdirSync(join(temp.dir, 'staging'))).toEqual([]);
  });

  it('rolls back published blobs when the record step fails', async () => {
    const preexisting = await store.put(Buffer.from('preexisting'));
    const staging = await store.beginStaging();
    await staging.put(Buffer.from('new'));
    await staging.put(Buffer.from('preexisting'));
    const failure = staging.commit(() => {
      throw new Error('index write failed');
    });
    await expect(failure).rejects.toThrow('index write failed');
    expect(await listAll(store)).toEqual([preexisting]);
    expect(readdirSync(join(temp.dir, 'staging'))).toEqual([]);
  });

  it('rejects writes after commit', async () => {
    const staging = await store.beginStaging();
    await staging.commit();
    await expect(staging.put(Buffer.from('late'))).rejects.toThrow(/already committed/);
  });

  it('recovers a session stopped mid-commit', async () => {
    const preexisting = await store.put(Buffer.from('preexisting'));
    const staging = await store.beginStaging();
    const referenced = await staging.put(Buffer.from('referenced'));
    const orphan = await staging.put(Buffer.from('orphan'));
    await staging.put(Buffer.from('preexisting'));

    // The record step never returns, as in a process that stopped after publishing.
    let reachedRecord = false;
    void staging.commit(async () => {
      reachedRecord = true;
      await new Promise(() => undefined);
    });
    await vi.waitFor(() => expect(reachedRecord).toBe(true));
    expect(await listAll(store)).toEqual([preexisting, referenced, orphan].sort());

    const recovery = await openStore().recoverStaging((sha256) => sha256 === referenced);
    expect(recovery.sessions).toBe(1);
    expect(recovery.deletedBlobs).toEqual([orphan]);
    expect(await listAll(store)).toEqual([preexisting, referenced].sort());
    expect(readdirSync(join(temp.dir, 'staging'))).toEqual([]);
  });

  it('recovers a session that never committed', async () => {
    const staging = await store.beginStaging();
    await staging.put(Buffer.from('staged only'));
    const recovery = await openStore().recoverStaging(() => false);
    expect(recovery.sessions).toBe(1);
    expect(recovery.deletedBlobs).toEqual([]);
    expect(readdirSync(join(temp.dir, 'staging'))).toEqual([]);
  });
});

