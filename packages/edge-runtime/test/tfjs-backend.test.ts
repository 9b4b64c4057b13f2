import { afterEach, describe, expect, it, vi } from 'vitest';
import { useTfjsBackend } from '../src/engines/tfjs-backend.ts';

describe('useTfjsBackend', () => {
  afterEach(() => vi.restoreAllMocks());

  it('keeps the cpu backend quiet about tfjs-node and passes other warnings on', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tf = await useTfjsBackend('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(Array.from(tf.tensor([1, 2, 3]).dataSync())).toEqual([1, 2, 3]);
    console.warn('engine note');
    expect(warn.mock.calls).toEqual([['engine note']]);
  });
});
