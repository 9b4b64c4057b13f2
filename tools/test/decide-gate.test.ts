import { describe, expect, it } from 'vitest';
import { decideGate } from '../src/gate/decide-gate.ts';
import type { HeadEvaluation, ModelEvaluation } from '../src/gate/evaluation.ts';
import { DEFAULT_GATE_POLICY } from '../src/gate/gate-policy.ts';

function signHead(accuracy: number, night = accuracy, topClassShare = 0.2): HeadEvaluation {
  return {
    head: 'sign',
    kind: 'classification',
    metric: { name: 'accuracy', value: accuracy, higherIsBetter: true },
    slices: { day: { value: accuracy, support: 100 }, night: { value: night, support: 100 }, rain: { value: 0, support: 3 } },
    support: 200,
    spread: { kind: 'classes', distinctPredicted: topClassShare >= 1 ? 1 : 6, distinctLabels: 6, topClassShare },
  };
}

function steeringHead(mae: number, predictionStd = 8): HeadEvaluation {
  return {
    head: 'steering',
    kind: 'regression',
    metric: { name: 'mae', value: mae, higherIsBetter: false },
    slices: {},
    support: 200,
    spread: { kind: 'values', predictionStd, labelStd: 9 },
  };
}

function model(label: string, heads: HeadEvaluation[], p99 = 5, sizeBytes = 100_000): ModelEvaluation {
  return { label, heads: Object.fromEntries(heads.map((h) => [h.head, h])), latencyMs: { p50: p99 / 2, p99 }, sizeBytes };
}

const POLICY = { ...DEFAULT_GATE_POLICY, tolerance: { steering: 0.5 } };

describe('decideGate', () => {
  it('publishes a candidate that is no worse', () => {
    const decision = decideGate(model('c', [signHead(0.9), steeringHead(2.0)]), model('d', [signHead(0.89), steeringHead(2.2)]), POLICY);
    expect(decision.publish).toBe(true);
    expect(decision.reasons).toEqual([]);
  });

  it('blocks a candidate worse on one head', () => {
    const decision = decideGate(model('c', [signHead(0.9), steeringHead(3.0)]), model('d', [signHead(0.9), steeringHead(2.0)]), POLICY);
    expect(decision.publish).toBe(false);
    expect(decision.reasons).toHaveLength(1);
    expect(decision.reasons[0]).toMatch(/^steering mae: 3\.0000 against deployed 2\.0000 \(worse by 1\.0000, tolerance 0\.5000\)/);
  });

  it('blocks a regression on a scenario slice', () => {
    const decision = decideGate(model('c', [signHead(0.9, 0.7)]), model('d', [signHead(0.9, 0.9)]), POLICY);
    expect(decision.publish).toBe(false);
    expect(decision.checks.find((c) => !c.passed)?.slice).toBe('night');
  });

  it('ignores slices below the support minimum', () => {
    const candidate = signHead(0.9);
    const deployed = signHead(0.9);
    deployed.slices.rain = { value: 1, support: 3 };
    expect(decideGate(model('c', [candidate]), model('d', [deployed]), POLICY).publish).toBe(true);
  });

  it('blocks a collapsed classifier', () => {
    const decision = decideGate(model('c', [signHead(0.95, 0.95, 1)]), null, POLICY);
    expect(decision.publish).toBe(false);
    expect(decision.reasons[0]).toMatch(/sign: predicts 1 of 6 classes/);
  });

  it('blocks a constant regression head', () => {
    const decision = decideGate(model('c', [steeringHead(1, 0.01)]), null, POLICY);
    expect(decision.publish).toBe(false);
    expect(decision.reasons[0]).toMatch(/steering: prediction spread 0\.0100 is 0\.1% of the label spread/);
  });

  it('blocks latency and size over budget', () => {
    const decision = decideGate(model('c', [signHead(0.9)], 80, 9e6), null, POLICY);
    expect(decision.checks.filter((c) => !c.passed).map((c) => c.check)).toEqual(['latency', 'size']);
  });

  it('scales the error tolerance with the deployed error', () => {
    const policy = { ...DEFAULT_GATE_POLICY, tolerance: {} };
    // 5% of a deployed MAE of 2.0 allows 0.1.
    expect(decideGate(model('c', [steeringHead(2.09)]), model('d', [steeringHead(2.0)]), policy).publish).toBe(true);
    expect(decideGate(model('c', [steeringHead(2.11)]), model('d', [steeringHead(2.0)]), policy).publish).toBe(false);
  });

  it('blocks a candidate that lost a head', () => {
    const decision = decideGate(model('c', [signHead(0.9)]), model('d', [signHead(0.9), steeringHead(2)]), POLICY);
    expect(decision.publish).toBe(false);
    expect(decision.reasons).toEqual(['steering: the deployed model has this head and the candidate does not']);
  });

  it('reports the constant-prediction baseline without gating', () => {
    const head = { ...steeringHead(7.2), baseline: 7.1 };
    const decision = decideGate(model('c', [head]), null, POLICY);
    const check = decision.checks.find((c) => c.check === 'baseline');
    expect(check?.passed).toBe(true);
    expect(check?.detail).toMatch(/^steering mae: 7\.2000 against 7\.1000 for the train split's best constant prediction \(not gated\)/);
  });

  it('blocks a head no better than the baseline', () => {
    const policy = { ...POLICY, minGainOverBaseline: 0.05 };
    const decision = decideGate(model('c', [{ ...signHead(0.2), baseline: 0.18 }, { ...steeringHead(2.0), baseline: 6 }]), null, policy);
    expect(decision.publish).toBe(false);
    expect(decision.reasons).toHaveLength(1);
    expect(decision.reasons[0]).toMatch(/^sign accuracy: 0\.2000 against 0\.1800 for the train split's best constant prediction \(at least 0\.2300 needed\)/);
  });
});
