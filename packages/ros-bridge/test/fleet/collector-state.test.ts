import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectorState } from '../../src/fleet/collector-state.ts';
import { decodeFleetMessage, encodeSample, encodeSamplePayloads, newBootId, type SampleChunk } from '../../src/fleet/sample-codec.ts';
import { makeSample } from './support/field-samples.ts';

function chunksOf(seed: string, sequence = 0): { whole: Buffer; chunks: SampleChunk[] } {
  const { record, blobs } = makeSample(seed);
  const sample = { robot: 'rover-1', bootId: newBootId(), sequence, record, image: blobs.image, input: blobs.input, extra: null };
  const chunks = encodeSamplePayloads(sample, 160).map((payload) => {
    const decoded = decodeFleetMessage(payload);
    if (decoded.kind !== 'chunk') throw new Error('expected a chunk');
    return decoded.chunk;
  });
  return { whole: encodeSample(sample), chunks };
}

describe('CollectorState', () => {
  it('reassembles chunks in any order', () => {
    const state = new CollectorState({ path: ':memory:' });
    const { whole, chunks } = chunksOf('a');
    const outcomes = [...chunks].reverse().map((chunk) => state.receiveChunk(chunk));
    const last = outcomes.at(-1);
    expect(outcomes.slice(0, -1).every((outcome) => outcome.kind === 'stored')).toBe(true);
    expect(last?.kind).toBe('complete');
    expect(last?.kind === 'complete' ? last.payload.equals(whole) : false).toBe(true);
    state.close();
  });

  it('ignores a repeated chunk', () => {
    const state = new CollectorState({ path: ':memory:' });
    const { chunks } = chunksOf('b');
    const first = chunks[0] as SampleChunk;
    state.receiveChunk(first);
    expect(state.receiveChunk(first).kind).toBe('stored');
    state.close();
  });

  it('drops chunks of a recorded sequence', () => {
    const state = new CollectorState({ path: ':memory:' });
    const { chunks } = chunksOf('c', 4);
    const first = chunks[0] as SampleChunk;
    state.receiveSample(first.robot, first.bootId, first.sequence, 'id', Buffer.from('x'));
    expect(state.receiveChunk(first).kind).toBe('duplicate-sequence');
    state.close();
  });

  it('rejects a chunk that disagrees on the count', () => {
    const state = new CollectorState({ path: ':memory:' });
    const { chunks } = chunksOf('d');
    const [first, second] = chunks as [SampleChunk, SampleChunk];
    state.receiveChunk(first);
    expect(() => state.receiveChunk({ ...second, count: second.count + 1 })).toThrow(/declares .* chunks/);
    state.close();
  });

  it('expires incomplete samples', () => {
    const state = new CollectorState({ path: ':memory:' });
    const { chunks } = chunksOf('e');
    state.receiveChunk(chunks[0] as SampleChunk);
    expect(state.expireChunks(1000, Date.now() + 500)).toBe(0);
    expect(state.expireChunks(1000, Date.now() + 2000)).toBe(1);
    state.close();
  });

  it('evicts the oldest incomplete sample past the bound', () => {
    const state = new CollectorState({ path: ':memory:', maxChunkBytes: 200 });
    const older = chunksOf('f').chunks;
    const newer = chunksOf('g').chunks;
    state.receiveChunk(older[0] as SampleChunk);
    state.receiveChunk(newer[0] as SampleChunk);
    // The older sample's first chunk is gone, so its remaining chunks can no longer complete it.
    const outcomes = older.slice(1).map((chunk) => state.receiveChunk(chunk).kind);
    expect(outcomes.includes('complete')).toBe(false);
    state.close();
  });

  it('transaction keeps messages around a failed one', () => {
    const state = new CollectorState({ path: ':memory:' });
    const { chunks } = chunksOf('h');
    const first = chunks[0] as SampleChunk;
    const conflicting = { ...(chunks[1] as SampleChunk), count: first.count + 1 };
    const outcomes = state.transaction(() => [
      state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('x')),
      state.receiveChunk(first).kind,
      (() => {
        try {
          return state.receiveChunk(conflicting).kind;
        } catch (error) {
          return (error as Error).name;
        }
      })(),
      state.receiveSample('r', 'b', 1, 'id-2', Buffer.from('y')),
    ]);
    expect(outcomes).toEqual(['accepted', 'stored', 'RangeError', 'accepted']);
    expect(state.pendingCount()).toBe(2);
    expect(state.receiveChunk(first).kind).toBe('stored');
    state.close();
  });

  it('keeps pending samples until settled', () => {
    const state = new CollectorState({ path: ':memory:' });
    expect(state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('x'))).toBe('accepted');
    expect(state.receiveSample('r', 'b', 1, 'id-1', Buffer.from('x'))).toBe('duplicate-content');
    expect(state.receiveSample('r', 'b', 0, 'id-2', Buffer.from('y'))).toBe('duplicate-sequence');
    const pending = state.pending(10);
    state.settle(pending.map((row) => row.rowId), ['id-1'], { version: 1, perRobot: { r: 1 } });
    expect(state.pendingCount()).toBe(0);
    expect(state.receiveSample('r', 'b', 2, 'id-1', Buffer.from('x'))).toBe('duplicate-content');
    state.close();
  });

  it('syncs a file state before and after writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-state-'));
    try {
      const path = join(dir, 'state.db');
      const state = new CollectorState({ path });
      await state.sync();
      expect(state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('x'))).toBe('accepted');
      await state.sync();
      state.close();
      const reopened = new CollectorState({ path });
      expect(reopened.pendingCount()).toBe(1);
      reopened.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('sync reports a missing directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-state-'));
    const state = new CollectorState({ path: join(dir, 'state.db') });
    state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('x'));
    try {
      await rm(dir, { recursive: true, force: true });
      // A deleted WAL file holds no commits that a sync could still save, so sync returns.
      await expect(state.sync()).resolves.toBeUndefined();
    } finally {
      state.close();
    }
  });
});
