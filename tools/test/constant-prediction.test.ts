import { describe, expect, it } from 'vitest';
import { constantPrediction, constantPredictionMetric } from '../src/gate/constant-prediction.ts';

describe('constantPrediction', () => {
  it('fits the median label of a regression head', () => {
    expect(constantPrediction('regression', [70, 90, 89, 91, 120])).toBe(90);
  });

  it('fits the most frequent class of a classification head', () => {
    expect(constantPrediction('classification', [2, 0, 2, 1, 2, 0])).toBe(2);
  });

  it('returns null without train labels', () => {
    expect(constantPrediction('binary', [])).toBeNull();
  });

  it('scores a train constant on other samples', () => {
    // Fitted on train (median 90), scored on held-out labels whose own median would be 60.
    expect(constantPredictionMetric('regression', 90, [60, 60, 70])).toBeCloseTo(80 / 3, 10);
    expect(constantPredictionMetric('classification', 2, [2, 1, 1, 0])).toBe(0.25);
    expect(constantPredictionMetric('classification', 2, [])).toBeNaN();
  });
});
