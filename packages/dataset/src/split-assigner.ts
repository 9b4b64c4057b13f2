import { createHash } from 'node:crypto';
import { SPLITS, type Split } from '@fieldloop/contracts';

/** Fractions of split keys that go to each split. Each is in [0, 1] and they sum to 1. */
export type SplitRatios = Readonly<Record<Split, number>>;

export const DEFAULT_SPLIT_RATIOS: SplitRatios = Object.freeze({ train: 0.8, val: 0.1, test: 0.1 });

/** Allowed distance of the ratio sum from 1, so that decimal ratios such as 0.7/0.2/0.1 pass. */
const SUM_TOLERANCE = 1e-9;

/** 2^48: the first 6 bytes of the key hash, read as an integer and divided by this, give a point in [0, 1). */
const HASH_RANGE = 2 ** 48;

/**
 * Checks split ratios and returns a frozen copy. Throws a RangeError that shows the ratios when
 * a split is missing, a ratio is not a finite number in [0, 1], or the sum is not 1 within 1e-9.
 */
export function validateSplitRatios(ratios: Record<string, unknown>): SplitRatios {
  const ratiosText = JSON.stringify(ratios);
  const extra = Object.keys(ratios).filter((name) => !(SPLITS as readonly string[]).includes(name));
  if (extra.length > 0) {
    throw new RangeError(
      `Invalid split ratios ${ratiosText}: unknown split ${extra.join(', ')}. Use only ${SPLITS.join(', ')}.`,
    );
  }
  const checked: Record<Split, number> = { train: 0, val: 0, test: 0 };
  for (const split of SPLITS) {
    const value = ratios[split];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
      throw new RangeError(
        `Invalid split ratios ${ratiosText}: ${split} must be a number in [0, 1], got ${String(value)}.`,
      );
    }
    checked[split] = value;
  }
  const sum = checked.train + checked.val + checked.test;
  if (Math.abs(sum - 1) > SUM_TOLERANCE) {
    throw new RangeError(
      `Invalid split ratios ${ratiosText}: they sum to ${Number(sum.toFixed(12))}, not 1. Scale them so that train + val + test = 1.`,
    );
  }
  return Object.freeze(checked);
}

/**
 * Assigns a split to a key from sha256(key) alone, so the same key and ratios always give the
 * same split. The first 6 bytes of the hash map the key to a point u in [0, 1): u < train gives
 * `train`, u < train + val gives `val`, anything else `test`. When rounding leaves u past the sum,
 * the last split with a non-zero ratio is used, so a split with ratio 0 never gets a key.
 */
export function assignSplit(key: string, ratios: SplitRatios): Split {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  const point = digest.readUIntBE(0, 6) / HASH_RANGE;
  let upper = 0;
  for (const split of SPLITS) {
    upper += ratios[split];
    if (ratios[split] > 0 && point < upper) return split;
  }
  const lastNonZero = [...SPLITS].reverse().find((split) => ratios[split] > 0);
  if (lastNonZero === undefined) {
    throw new RangeError(`Invalid split ratios ${JSON.stringify(ratios)}: every ratio is 0.`);
  }
  return lastNonZero;
}
