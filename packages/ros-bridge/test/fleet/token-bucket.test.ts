import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/fleet/token-bucket.ts';

describe('TokenBucket', () => {
  it('allows a burst up to its capacity', () => {
    const bucket = new TokenBucket(10, 3, () => 0);
    const results = [bucket.take(), bucket.take(), bucket.take(), bucket.take()];
    expect(results).toEqual([true, true, true, false]);
  });

  it('refills at its rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 1, () => now);
    bucket.take();
    now = 50;
    expect(bucket.take()).toBe(false);
    now = 100;
    expect(bucket.take()).toBe(true);
  });

  it('reports the wait for the next token', () => {
    const bucket = new TokenBucket(4, 1, () => 0);
    bucket.take();
    expect(bucket.waitMs()).toBe(250);
  });

  it('rejects a rate of zero', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(/rate must be above 0/);
  });
});
