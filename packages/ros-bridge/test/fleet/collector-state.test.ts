import { mkdtemp, open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
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

/** Runs `body` with a new temporary directory, and removes it afterwards. */
async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'fieldloop-state-'));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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

  it('rejects a second user of a state file', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'state.db');
      const state = new CollectorState({ path });
      expect(() => new CollectorState({ path })).toThrow(`collector state ${path} is locked by process ${process.pid}`);
      // The failed open left the first user's journal alone.
      expect(state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('x'))).toBe('accepted');
      await state.sync();
      state.close();
      const reopened = new CollectorState({ path });
      expect(reopened.pendingCount()).toBe(1);
      reopened.close();
    });
  });

  it('asks isStored instead of keeping committed ids', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'state.db');
      const stored = new Set<string>(['id-old']);
      const state = new CollectorState({ path, isStored: (sampleId) => stored.has(sampleId) });
      expect(state.receiveSample('r', 'b', 0, 'id-old', Buffer.from('x'))).toBe('duplicate-content');
      expect(state.receiveSample('r', 'b', 1, 'id-1', Buffer.from('y'))).toBe('accepted');
      state.settle(state.pending(10).map((row) => row.rowId), ['id-1'], { version: 1, perRobot: { r: 1 } });
      stored.add('id-1');
      expect(state.receiveSample('r', 'b', 2, 'id-1', Buffer.from('y'))).toBe('duplicate-content');
      state.close();
      const db = new Database(path, { readonly: true });
      expect(db.prepare('SELECT count(*) FROM committed').pluck().get()).toBe(0);
      db.close();
    });
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

  describe('intake journal', () => {
    function sqlitePayloadBytes(path: string): number[] {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare('SELECT length(payload) AS n FROM pending ORDER BY id').all() as Array<{ n: number }>).map((row) => row.n);
      } finally {
        db.close();
      }
    }

    it('keeps payloads out of SQLite', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const state = new CollectorState({ path });
        const payload = Buffer.from('payload of sample one');
        expect(state.receiveSample('r', 'b', 0, 'id-1', payload)).toBe('accepted');
        await state.sync();
        state.close();
        expect(sqlitePayloadBytes(path)).toEqual([0]);
        const reopened = new CollectorState({ path });
        expect(reopened.droppedAtOpen).toBe(0);
        expect(reopened.pending(10).map((row) => row.payload.toString())).toEqual([payload.toString()]);
        expect(reopened.pending(10).map((row) => row.verified)).toEqual([true]);
        reopened.close();
      });
    });

    it('keeps reassembled payloads in SQLite', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const state = new CollectorState({ path });
        expect(state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('whole'), true)).toBe('accepted');
        expect(state.pending(10).map((row) => row.verified)).toEqual([true]);
        state.close();
        expect(sqlitePayloadBytes(path)).toEqual([5]);
        // SQLite keeps no checksum of the payload, so after a restart the store must hash it again.
        const reopened = new CollectorState({ path });
        expect(reopened.pending(10).map((row) => [row.payload.toString(), row.verified])).toEqual([['whole', false]]);
        reopened.close();
      });
    });

    it('serves payloads from memory, and reads back the ones past the bound', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const state = new CollectorState({ path, payloadCacheBytes: 250 });
        state.transaction(() => {
          for (let seq = 0; seq < 3; seq += 1) state.receiveSample('r', 'b', seq, `id-${seq}`, Buffer.alloc(100, seq));
        });
        // The journal copy of the newest payloads is damaged, so only a read from memory returns their bytes.
        const segment = (await readdir(`${path}.intake`))[0] as string;
        const file = await open(join(`${path}.intake`, segment), 'r+');
        await file.write(Buffer.alloc(200, 9), 0, 200, 112 + 12);
        await file.close();
        expect(state.pending(10).map((row) => row.payload[0])).toEqual([0, 1, 2]);
        state.close();
      });
    });

    it('keeps no payload of a rolled-back transaction', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const state = new CollectorState({ path });
        expect(() =>
          state.transaction(() => {
            state.receiveSample('r', 'b', 0, 'id-0', Buffer.alloc(100, 7));
            throw new Error('rolled back');
          }),
        ).toThrow('rolled back');
        expect(state.pending(10)).toEqual([]);
        // The same row id now has other bytes, which must not come from the rolled-back transaction.
        state.receiveSample('r', 'b', 0, 'id-0', Buffer.alloc(100, 8));
        expect(state.pending(10).map((row) => row.payload[0])).toEqual([8]);
        state.close();
      });
    });

    it('drops rows of a lost record', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const state = new CollectorState({ path });
        state.transaction(() => {
          state.receiveSample('r', 'b', 0, 'id-1', Buffer.alloc(100, 1));
          state.receiveSample('r', 'b', 1, 'id-2', Buffer.alloc(100, 2));
        });
        state.close();
        // A power loss that kept the SQLite commit but only part of the journal write.
        const [segment] = await readdir(`${path}.intake`);
        const segmentPath = join(`${path}.intake`, segment as string);
        await truncate(segmentPath, (await stat(segmentPath)).size - 10);
        const reopened = new CollectorState({ path });
        expect(reopened.droppedAtOpen).toBe(1);
        expect(reopened.pending(10).map((row) => row.sampleId)).toEqual(['id-1']);
        // The lost message was never acknowledged, so its redelivery must be accepted.
        expect(reopened.receiveSample('r', 'b', 1, 'id-2', Buffer.alloc(100, 2))).toBe('accepted');
        expect(reopened.receiveSample('r', 'b', 0, 'id-1', Buffer.alloc(100, 1))).toBe('duplicate-sequence');
        reopened.close();
      });
    });

    it('detects a corrupt record', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const state = new CollectorState({ path });
        state.receiveSample('r', 'b', 0, 'id-1', Buffer.alloc(100, 1));
        state.close();
        const [segment] = await readdir(`${path}.intake`);
        // One flipped byte in the payload, which starts after the 12-byte record header.
        const file = await open(join(`${path}.intake`, segment as string), 'r+');
        await file.write(Buffer.from([0xff]), 0, 1, 50);
        await file.close();
        const reopened = new CollectorState({ path });
        expect(reopened.droppedAtOpen).toBe(1);
        expect(reopened.pendingCount()).toBe(0);
        reopened.close();
      });
    });

    it('removes settled segments', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        // Segments of 64 bytes hold one 100-byte record each.
        const state = new CollectorState({ path, journalSegmentBytes: 64 });
        for (let sequence = 0; sequence < 3; sequence += 1) state.receiveSample('r', 'b', sequence, `id-${sequence}`, Buffer.alloc(100, sequence));
        await state.sync();
        expect(await readdir(`${path}.intake`)).toHaveLength(3);
        // `pending` seals the journal: the third segment contains a record, so a fourth one starts.
        const [first, ...rest] = state.pending(10);
        expect(rest.map((row) => row.payload[0])).toEqual([1, 2]);
        expect(await readdir(`${path}.intake`)).toHaveLength(4);
        state.settle([first!.rowId], ['id-0'], null);
        expect(await readdir(`${path}.intake`)).toHaveLength(3);
        state.settle(rest.map((row) => row.rowId), ['id-1', 'id-2'], null);
        expect(await readdir(`${path}.intake`)).toHaveLength(1);
        state.close();
        const reopened = new CollectorState({ path });
        expect(reopened.pendingCount()).toBe(0);
        expect(await readdir(`${path}.intake`)).toHaveLength(1);
        reopened.close();
      });
    });

    it('rolls back on a failed journal write', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const state = new CollectorState({ path });
        const journal = (state as unknown as { journal: { flush(): void } }).journal;
        const flush = journal.flush.bind(journal);
        journal.flush = () => {
          throw new Error('no space left on device');
        };
        expect(() => state.transaction(() => state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('x')))).toThrow('no space left on device');
        expect(state.pendingCount()).toBe(0);
        journal.flush = flush;
        // The rolled-back message is not remembered, so its redelivery is accepted.
        expect(state.receiveSample('r', 'b', 0, 'id-1', Buffer.from('x'))).toBe('accepted');
        expect(state.pending(10).map((row) => row.payload.toString())).toEqual(['x']);
        state.close();
      });
    });

    it('opens a state file of the old layout', async () => {
      await withDir(async (dir) => {
        const path = join(dir, 'state.db');
        const old = new Database(path);
        old.exec(`
          CREATE TABLE pending (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            robot TEXT NOT NULL, sample_id TEXT NOT NULL, payload BLOB NOT NULL, received_at INTEGER NOT NULL
          );
          INSERT INTO pending (robot, sample_id, payload, received_at) VALUES ('r', 'id-old', x'0102', 0);
        `);
        old.close();
        const state = new CollectorState({ path });
        expect(state.receiveSample('r', 'b', 0, 'id-new', Buffer.from([3]))).toBe('accepted');
        expect(state.pending(10).map((row) => [row.sampleId, [...row.payload]])).toEqual([
          ['id-old', [1, 2]],
          ['id-new', [3]],
        ]);
        state.close();
      });
    });
  });
});
