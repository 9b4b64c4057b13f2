import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntakeJournal } from '../../src/fleet/intake-journal.ts';

describe('IntakeJournal', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-intake-journal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads flushed records back', async () => {
    const journal = new IntakeJournal(dir);
    const first = journal.append(Buffer.from('first'));
    const second = journal.append(Buffer.from('second'));
    journal.flush();
    await journal.sync();
    expect(journal.read(first)?.toString()).toBe('first');
    expect(journal.read(second)?.toString()).toBe('second');
    expect(second.offset).toBe(first.offset + 12 + 5);
    journal.close();
  });

  it('writes more records in one flush than one gathering write takes', () => {
    // Linux takes at most 1024 buffers per writev call; 1500 records are 3000 buffers.
    const journal = new IntakeJournal(dir);
    const refs = Array.from({ length: 1500 }, (_, index) => journal.append(Buffer.from(`record ${index}`)));
    journal.flush();
    expect(refs.map((ref) => journal.read(ref)?.toString())).toEqual(refs.map((_, index) => `record ${index}`));
    journal.close();
  });

  it('rejects a record that does not match', () => {
    const journal = new IntakeJournal(dir);
    const ref = journal.append(Buffer.from('payload'));
    // Not flushed yet, so nothing lies at the offset.
    expect(journal.read(ref)).toBeNull();
    journal.flush();
    expect(journal.read({ ...ref, crc: (ref.crc + 1) >>> 0 })).toBeNull();
    expect(journal.read({ ...ref, length: ref.length - 1 })).toBeNull();
    expect(journal.read({ ...ref, segment: ref.segment + 5 })).toBeNull();
    journal.close();
  });

  it('drops records of a discarded transaction', () => {
    const journal = new IntakeJournal(dir);
    const dropped = journal.append(Buffer.from('dropped'));
    journal.discard();
    const kept = journal.append(Buffer.from('kept'));
    journal.flush();
    expect(kept.offset).toBe(dropped.offset);
    expect(journal.read(kept)?.toString()).toBe('kept');
    journal.close();
  });

  it('rolls over and removes segments', async () => {
    const journal = new IntakeJournal(dir, 32);
    const refs = ['a'.repeat(30), 'b'.repeat(30), 'c'.repeat(30)].map((text) => {
      const ref = journal.append(Buffer.from(text));
      journal.flush();
      return ref;
    });
    await journal.sync();
    expect(new Set(refs.map((ref) => ref.segment)).size).toBe(3);
    expect(refs.map((ref) => journal.read(ref)?.toString()[0])).toEqual(['a', 'b', 'c']);
    journal.removeSegmentsExcept(new Set([refs[1]!.segment]));
    expect(await readdir(dir)).toHaveLength(2);
    expect(journal.read(refs[0]!)).toBeNull();
    expect(journal.read(refs[1]!)?.toString()[0]).toBe('b');
    journal.close();
  });

  it('starts a new segment on open', () => {
    const journal = new IntakeJournal(dir);
    const ref = journal.append(Buffer.from('before the restart'));
    journal.flush();
    journal.close();
    const reopened = new IntakeJournal(dir);
    expect(reopened.read(ref)?.toString()).toBe('before the restart');
    expect(reopened.append(Buffer.from('after')).segment).toBe(ref.segment + 1);
    reopened.close();
  });
});
