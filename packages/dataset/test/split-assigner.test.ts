import { describe, expect, it } from 'vitest';
import { assignSplit, DEFAULT_SPLIT_RATIOS, validateSplitRatios } from '../src/index.ts';

describe('assignSplit', () => {
  it('gives a key the same split every time', () => {
    for (let i = 0; i < 200; i += 1) {
      const key = `recording-${i}`;
      const first = assignSplit(key, DEFAULT_SPLIT_RATIOS);
      expect(assignSplit(key, DEFAULT_SPLIT_RATIOS)).toBe(first);
      expect(assignSplit(key, { ...DEFAULT_SPLIT_RATIOS })).toBe(first);
    }
  });

  it('follows the ratios over 10,000 keys', () => {
    const ratios = validateSplitRatios({ train: 0.7, val: 0.2, test: 0.1 });
    const counts = { train: 0, val: 0, test: 0 };
    for (let i = 0; i < 10_000; i += 1) counts[assignSplit(`key-${i}`, ratios)] += 1;
    // With n = 10,000 the standard deviation of a fraction is at most 0.005, so 0.02 is four of them.
    expect(Math.abs(counts.train / 10_000 - 0.7)).toBeLessThan(0.02);
    expect(Math.abs(counts.val / 10_000 - 0.2)).toBeLessThan(0.02);
    expect(Math.abs(counts.test / 10_000 - 0.1)).toBeLessThan(0.02);
  });

  it('never picks a split with ratio 0', () => {
    const onlyTest = validateSplitRatios({ train: 0, val: 0, test: 1 });
    const noTest = validateSplitRatios({ train: 0.5, val: 0.5, test: 0 });
    for (let i = 0; i < 2_000; i += 1) {
      expect(assignSplit(`key-${i}`, onlyTest)).toBe('test');
      expect(assignSplit(`key-${i}`, noTest)).not.toBe('test');
    }
  });

  it('depends on the key, not on its position', () => {
    const splits = new Set(Array.from({ length: 100 }, (_, i) => assignSplit(`run-${i}`, DEFAULT_SPLIT_RATIOS)));
    expect(splits.size).toBe(3);
  });
});

describe('validateSplitRatios', () => {
  it('accepts sums within 1e-9 of 1', () => {
    expect(validateSplitRatios({ train: 0.7, val: 0.2, test: 0.1 })).toEqual({ train: 0.7, val: 0.2, test: 0.1 });
    expect(validateSplitRatios({ train: 0.6, val: 0.3, test: 0.1 + 5e-10 }).test).toBeCloseTo(0.1, 9);
  });

  it.each([
    ['negative ratio', { train: 0.6, val: -0.1, test: 0.5 }, /val must be a number in \[0, 1\]/],
    ['sum below 1', { train: 0.5, val: 0.2, test: 0.2 }, /sum to 0\.9/],
    ['sum off by 1e-8', { train: 0.8, val: 0.1, test: 0.1 + 1e-8 }, /not 1/],
    ['NaN ratio', { train: Number.NaN, val: 0.5, test: 0.5 }, /train must be a number/],
    ['missing split', { train: 0.9, val: 0.1 }, /test must be a number/],
    ['unknown split', { train: 0.8, val: 0.1, test: 0.1, holdout: 0 }, /unknown split holdout/],
    ['string ratio', { train: '0.8', val: 0.1, test: 0.1 }, /train must be a number/],
  ])('rejects %s', (_name, ratios, message) => {
    expect(() => validateSplitRatios(ratios)).toThrow(message);
  });
});
