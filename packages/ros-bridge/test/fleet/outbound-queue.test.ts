import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';

const message = (text: string) => ({ topic: 't', payload: Buffer.from(text) });

describe('OutboundQueue', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-queue-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('returns items oldest first', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q.db') });
    queue.enqueue([message('a')]);
    queue.enqueue([message('b'), message('c')]);
    expect(queue.peek(0, 10).map((item) => item.payload.toString())).toEqual(['a', 'b', 'c']);
    queue.close();
  });

  it('peeks after an id', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q.db') });
    queue.enqueue([message('a'), message('b')]);
    const [first] = queue.peek(0, 1);
    expect(queue.peek(first?.id ?? 0, 10).map((item) => item.payload.toString())).toEqual(['b']);
    queue.close();
  });

  it('appends several samples at once', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q.db'), maxItems: 3 });
    const dropped = queue.enqueueMany([[message('a')], [message('b1'), message('b2')], [message('c')]]);
    expect(dropped).toBe(1);
    expect(queue.peek(0, 10).map((item) => item.payload.toString())).toEqual(['b1', 'b2', 'c']);
    queue.close();
  });

  it('keeps items across reopen', () => {
    const first = OutboundQueue.open({ path: join(dir, 'q.db') });
    first.enqueue([message('a'), message('b')]);
    first.close();
    const second = OutboundQueue.open({ path: join(dir, 'q.db') });
    expect(second.stats()).toEqual({ items: 2, bytes: 2, dropped: 0 });
    second.close();
  });

  it('removes acknowledged items', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q.db') });
    queue.enqueue([message('a'), message('b')]);
    const [first] = queue.peek(0, 1);
    queue.remove(first?.id ?? -1);
    queue.remove(first?.id ?? -1);
    expect(queue.stats().items).toBe(1);
    queue.close();
  });

  it('drops the oldest sample when full', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q.db'), maxItems: 3 });
    queue.enqueue([message('a1'), message('a2')]);
    queue.enqueue([message('b')]);
    const dropped = queue.enqueue([message('c')]);
    expect(dropped).toBe(2);
    expect(queue.peek(0, 10).map((item) => item.payload.toString())).toEqual(['b', 'c']);
    expect(queue.stats().dropped).toBe(2);
    queue.close();
  });

  it('drops by bytes', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q.db'), maxBytes: 4 });
    queue.enqueue([message('aa')]);
    queue.enqueue([message('bb')]);
    queue.enqueue([message('cc')]);
    expect(queue.peek(0, 10).map((item) => item.payload.toString())).toEqual(['bb', 'cc']);
    queue.close();
  });

  it('rejects a sample larger than the bound', () => {
    const queue = OutboundQueue.open({ path: join(dir, 'q.db'), maxBytes: 4 });
    expect(() => queue.enqueue([message('too long')])).toThrow(/does not fit/);
    queue.close();
  });

  it('rejects a missing directory', () => {
    expect(() => OutboundQueue.open({ path: join(dir, 'no', 'such', 'q.db') })).toThrow(/opening the outbound queue/);
  });

  it('keeps removals after reopening', () => {
    const path = join(dir, 'q.db');
    const queue = OutboundQueue.open({ path });
    queue.enqueue([message('a')]);
    queue.enqueue([message('b')]);
    const [first] = queue.peek(0, 1);
    queue.removeMany([first?.id ?? 0]);
    queue.enqueue([message('c')]);
    queue.close();
    const reopened = OutboundQueue.open({ path });
    expect(reopened.peek(0, 10).map((item) => item.payload.toString())).toEqual(['b', 'c']);
    expect(reopened.stats().items).toBe(2);
    reopened.close();
  });
});
