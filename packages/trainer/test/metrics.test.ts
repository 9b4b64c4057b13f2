import { describe, expect, it } from 'vitest';
import { classificationMetrics, rocAuc } from '../src/eval/classification-metrics.ts';
import { regressionMetrics } from '../src/eval/regression-metrics.ts';
import { sortClassNames } from '../src/data/head-specs.ts';
import type { LoadedSample } from '../src/data/load-samples.ts';
import { headMetrics } from '../src/eval/evaluate-model.ts';

function labelled(labels: LoadedSample['labels']): LoadedSample {
  return { id: 'x', pixels: new Float32Array(0), labels, tags: [], recording: 'r', addedIn: 1 };
}

describe('classificationMetrics', () => {
  // truth:     a a a b b c
  // predicted: a a b b c c
  const result = classificationMetrics([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], ['a', 'b', 'c']);

  it('computes per-class scores', () => {
    expect(result.perClass.a).toEqual({ precision: 1, recall: 2 / 3, f1: 0.8, support: 3 });
    expect(result.perClass.b).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(result.perClass.c?.precision).toBe(0.5);
    expect(result.perClass.c?.recall).toBe(1);
    expect(result.perClass.c?.f1).toBeCloseTo(2 / 3, 10);
  });

  it('computes averages', () => {
    expect(result.accuracy).toBeCloseTo(4 / 6, 10);
    expect(result.micro.f1).toBeCloseTo(4 / 6, 10);
    expect(result.macro.f1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 10);
    expect(result.weighted.f1).toBeCloseTo((0.8 * 3 + 0.5 * 2 + (2 / 3) * 1) / 6, 10);
    expect(result.macro.precision).toBeCloseTo((1 + 0.5 + 0.5) / 3, 10);
  });

  it('builds the confusion matrix', () => {
    expect(result.confusion).toEqual([[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
  });

  it('rejects out-of-range classes', () => {
    expect(() => classificationMetrics([3], [0], ['a', 'b'])).toThrow('Class index out of range');
  });
});

describe('rocAuc', () => {
  it('matches a hand count', () => {
    // Pairs (positive, negative): (0.8,0.1) (0.8,0.4) (0.35,0.1) (0.35,0.4) -> 3 of 4 ranked right.
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
  });

  it('counts ties as half', () => {
    expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5);
  });

  it('returns null for one class', () => {
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNull();
  });
});

describe('regressionMetrics', () => {
  it('computes mae, rmse and r2', () => {
    const result = regressionMetrics([1, 2, 3], [1, 2, 5]);
    expect(result.mae).toBeCloseTo(2 / 3, 10);
    expect(result.rmse).toBeCloseTo(Math.sqrt(4 / 3), 10);
    expect(result.r2).toBeCloseTo(1 - 4 / 2, 10);
  });

  it('returns null r2 for constant labels', () => {
    expect(regressionMetrics([2, 2], [1, 3]).r2).toBeNull();
  });
});

describe('sortClassNames', () => {
  it('orders numeric names numerically', () => {
    expect(sortClassNames(['10', '2', '1'])).toEqual(['1', '2', '10']);
  });

  it('orders other names as strings', () => {
    expect(sortClassNames(['stop', 'left', '2'])).toEqual(['2', 'left', 'stop']);
  });
});

describe('headMetrics', () => {
  it('scores binary logits', () => {
    const samples = [labelled({ night: true }), labelled({ night: false }), labelled({}), labelled({ night: 'true' })];
    const metrics = headMetrics({ name: 'night', kind: 'binary', role: 'auxiliary', weight: 1, classes: ['false', 'true'] }, samples, [[2], [-1], [5], [-0.5]]);
    if (metrics.kind !== 'binary') throw new Error(`expected binary metrics, got ${metrics.kind}`);
    expect(metrics.count).toBe(3);
    expect(metrics.accuracy).toBeCloseTo(2 / 3, 10);
    expect(metrics.rocAuc).toBe(1);
  });

  it('de-normalises regression outputs', () => {
    const samples = [labelled({ steering: 90 }), labelled({ steering: 100 })];
    const head = { name: 'steering', kind: 'regression' as const, role: 'primary' as const, weight: 1, normalization: { mean: 95, std: 5 } };
    const metrics = headMetrics(head, samples, [[-1], [0]]);
    if (metrics.kind !== 'regression') throw new Error(`expected regression metrics, got ${metrics.kind}`);
    expect(metrics.mae).toBeCloseTo(2.5, 10);
  });
});
