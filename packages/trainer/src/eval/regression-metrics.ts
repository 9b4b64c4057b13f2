export interface RegressionMetrics {
  count: number;
  mae: number;
  rmse: number;
  /** Coefficient of determination; null when the labels have zero variance or there are none. */
  r2: number | null;
}

/** Computes MAE, RMSE and R² of predictions against labels, in label units. */
export function regressionMetrics(truth: number[], predicted: number[]): RegressionMetrics {
  if (truth.length !== predicted.length) {
    throw new Error(`regressionMetrics needs as many predictions as labels, got ${predicted.length} and ${truth.length}.`);
  }
  const count = truth.length;
  if (count === 0) return { count, mae: NaN, rmse: NaN, r2: null };
  let absolute = 0;
  let squared = 0;
  let sum = 0;
  truth.forEach((t, i) => {
    const error = (predicted[i] ?? NaN) - t;
    absolute += Math.abs(error);
    squared += error * error;
    sum += t;
  });
  const mean = sum / count;
  const total = truth.reduce((acc, t) => acc + (t - mean) ** 2, 0);
  return { count, mae: absolute / count, rmse: Math.sqrt(squared / count), r2: total === 0 ? null : 1 - squared / total };
}
