import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findSharedData, mulberry32Next, seededRandom } from '../src/index.ts';

/** mulberry32 as it is usually written, with signed state, to compare against. */
function reference(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('seededRandom', () => {
  it('matches mulberry32 for several seeds', () => {
    for (const seed of [0, 1, 7, 20161112, -5, 0xffffffff]) {
      const ours = seededRandom(seed);
      const theirs = reference(seed);
      for (let i = 0; i < 1000; i += 1) expect(ours(), `seed ${seed} draw ${i}`).toBe(theirs());
    }
  });

  it('keeps its state in one unsigned integer', () => {
    const [state, value] = mulberry32Next(0xffffffff);
    expect(state).toBeGreaterThanOrEqual(0);
    expect(state).toBeLessThan(2 ** 32);
    expect(value).toBeGreaterThanOrEqual(0);
    expect(value).toBeLessThan(1);
  });

  const data = findSharedData();
  it.skipIf(!data)('reproduces the RC-car bag jitter (needs shared/data)', () => {
    // The derived bag's servo jitter is floor(u_i * 60001) - 30000 microseconds, with u_i from
    // mulberry32 seeded 20161112; frames_truth.csv lists it per frame.
    const rows = readFileSync(join(data as string, 'bags/rc_night_a/frames_truth.csv'), 'utf8').trim().split('\n');
    const header = (rows.shift() as string).split(',');
    const column = header.indexOf('jitter_us');
    const next = seededRandom(20161112);
    for (const row of rows) expect(Math.floor(next() * 60001) - 30000).toBe(Number(row.split(',')[column]));
  });
});
