import type { HeadKind } from '@fieldloop/contracts';

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function mostFrequent(values: readonly number[]): number | null {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best: number | null = null;
  for (const [value, count] of counts) if (best === null || count > (counts.get(best) ?? 0)) best = value;
  return best;
}

/**
 * Fits the best constant prediction of a head on `train`: the median label of a regression head,
 * the most frequent class index of the others. Returns null when `train` is empty.
 */
export function constantPrediction(kind: HeadKind, train: readonly number[]): number | null {
  return kind === 'regression' ? median(train) : mostFrequent(train);
}

/**
 * Scores a constant prediction on `values` (labels of a regression head, class indexes of the
 * others) with the gate's metric: MAE for regression, accuracy for the others.
 */
export function constantPredictionMetric(kind: HeadKind, constant: number, values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const total = values.reduce((sum, value) => sum + (kind === 'regression' ? Math.abs(value - constant) : value === constant ? 1 : 0), 0);
  return total / values.length;
}
