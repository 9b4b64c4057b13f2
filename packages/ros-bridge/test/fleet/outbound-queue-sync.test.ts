import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const syncs = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return {
    ...actual,
    fdatasyncSync: (fd: number) => {
      syncs.count += 1;
      actual.fdatasyncSync(fd);
    },
  };
});

const { OutboundQueue } = await import('../../src/fleet/outbound-queue.ts');
const message = (text: string) => ({ topic: 't', payload: Buffer.from(text) });

describe('OutboundQueue sync', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-queue-sync-'));
    syncs.count = 0;
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('full syncs once per enqueueMany', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q') });
    queue.enqueueMany([[message('a')], [message('b1'), message('b2')], [message('c')]]);
    expect(syncs.count).toBe(1);
    queue.enqueue([message('d')]);
    expect(syncs.count).toBe(2);
    queue.close();
  });

  it('deferred enqueue syncs in the background', async () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q') });
    const { synced } = queue.enqueueManyDeferred([[message('a')], [message('b')]]);
    expect(syncs.count).toBe(0);
    expect(queue.peek(0, 10).map((item) => item.payload.toString())).toEqual(['a', 'b']);
    await synced;
    queue.close();
  });

  it('deferred sync outlives close and deletion', async () => {
    // One-record segments, so that removing the items deletes the first segment at the next append.
    const queue = OutboundQueue.open({ path: join(dir, 'q'), segmentBytes: 1 });
    const first = queue.enqueueManyDeferred([[message('a')]]);
    queue.removeMany(queue.peek(0, 10).map((item) => item.id));
    const second = queue.enqueueManyDeferred([[message('b')]]);
    queue.close();
    await expect(Promise.all([first.synced, second.synced])).resolves.toEqual([undefined, undefined]);
    const reopened = OutboundQueue.open({ path: join(dir, 'q') });
    expect(reopened.peek(0, 10).map((item) => item.payload.toString())).toEqual(['b']);
    reopened.close();
  });

  it('removal does not sync', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q') });
    queue.enqueue([message('a'), message('b')]);
    syncs.count = 0;
    queue.removeMany(queue.peek(0, 10).map((item) => item.id));
    expect(syncs.count).toBe(0);
    queue.close();
  });

  it('normal never syncs appends', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q'), synchronous: 'normal' });
    queue.enqueueMany([[message('a')], [message('b')]]);
    expect(syncs.count).toBe(0);
    queue.close();
  });
});
