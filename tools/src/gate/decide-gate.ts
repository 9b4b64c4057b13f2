import type { HeadEvaluation, ModelEvaluation } from './evaluation.ts';
import type { GatePolicy } from './gate-policy.ts';

/** One check the gate ran, with its outcome and the numbers behind it. */
export interface GateCheck {
  check: 'regression' | 'slice-regression' | 'collapse' | 'baseline' | 'latency' | 'size' | 'missing-head';
  head: string | null;
  slice: string | null;
  passed: boolean;
  detail: string;
}

/** The gate's decision: publish only when every check passed. */
export interface GateDecision {
  publish: boolean;
  checks: GateCheck[];
  /** The failed checks' details, in order, for logs and the report. */
  reasons: string[];
}

function worsening(candidate: number, deployed: number, higherIsBetter: boolean): number {
  return higherIsBetter ? deployed - candidate : candidate - deployed;
}

/** Describes a worsening in words: worse by, better by, or unchanged. */
function change(drop: number): string {
  if (drop === 0) return 'unchanged';
  return `${drop > 0 ? 'worse' : 'better'} by ${format(Math.abs(drop))}`;
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(4);
}

function collapseCheck(head: HeadEvaluation, policy: GatePolicy): GateCheck {
  const spread = head.spread;
  if (spread.kind === 'classes') {
    const collapsed = spread.distinctLabels > 1 && (spread.distinctPredicted <= 1 || spread.topClassShare > policy.maxTopClassShare);
    return {
      check: 'collapse',
      head: head.head,
      slice: null,
      passed: !collapsed,
      detail: `${head.head}: predicts ${spread.distinctPredicted} of ${spread.distinctLabels} classes, the most frequent for ` +
        `${(spread.topClassShare * 100).toFixed(1)}% of samples (limit ${(policy.maxTopClassShare * 100).toFixed(0)}%)`,
    };
  }
  const relative = spread.labelStd > 0 ? spread.predictionStd / spread.labelStd : 1;
  return {
    check: 'collapse',
    head: head.head,
    slice: null,
    passed: relative >= policy.minRelativeSpread,
    detail: `${head.head}: prediction spread ${format(spread.predictionStd)} is ${(relative * 100).toFixed(1)}% of the label spread ` +
      `${format(spread.labelStd)} (minimum ${(policy.minRelativeSpread * 100).toFixed(0)}%)`,
  };
}

/** Compares a head with the best constant predictor. The check fails only when the policy sets a minimum gain. */
function baselineCheck(head: HeadEvaluation, policy: GatePolicy): GateCheck | null {
  if (head.baseline === undefined || !Number.isFinite(head.baseline)) return null;
  const { name, value, higherIsBetter } = head.metric;
  const gain = policy.minGainOverBaseline;
  let needed: number | null = null;
  if (gain !== null) needed = higherIsBetter ? head.baseline + gain : head.baseline * (1 - gain);
  const passed = needed === null || (higherIsBetter ? value >= needed : value <= needed);
  const limit = needed === null ? 'not gated' : `${higherIsBetter ? 'at least' : 'at most'} ${format(needed)} needed`;
  return {
    check: 'baseline',
    head: head.head,
    slice: null,
    passed,
    detail: `${head.head} ${name}: ${format(value)} against ${format(head.baseline)} for the train split's best constant prediction (${limit})`,
  };
}

/**
 * Decides whether a candidate replaces the deployed model. It blocks on any head or scenario slice
 * whose metric worsened by more than the head's tolerance, on collapsed outputs, and on latency
 * or size over budget. Without a deployed model only collapse and budgets are checked.
 */
export function decideGate(candidate: ModelEvaluation, deployed: ModelEvaluation | null, policy: GatePolicy): GateDecision {
  const checks: GateCheck[] = [];
  for (const head of Object.values(candidate.heads)) {
    checks.push(collapseCheck(head, policy));
    const trivial = baselineCheck(head, policy);
    if (trivial) checks.push(trivial);
    const before = deployed?.heads[head.head];
    if (!before) continue;
    const { name, higherIsBetter } = head.metric;
    const tolerance = policy.tolerance[head.head]
      ?? (higherIsBetter ? policy.defaultTolerance : policy.defaultRelativeErrorTolerance * Math.abs(before.metric.value));
    const drop = worsening(head.metric.value, before.metric.value, higherIsBetter);
    checks.push({
      check: 'regression',
      head: head.head,
      slice: null,
      passed: drop <= tolerance,
      detail: `${head.head} ${name}: ${format(head.metric.value)} against deployed ${format(before.metric.value)} ` +
        `(${change(drop)}, tolerance ${format(tolerance)})`,
    });
    for (const [slice, value] of Object.entries(head.slices)) {
      const old = before.slices[slice];
      if (!old || value.support < policy.minSliceSupport || old.support < policy.minSliceSupport) continue;
      const sliceDrop = worsening(value.value, old.value, higherIsBetter);
      checks.push({
        check: 'slice-regression',
        head: head.head,
        slice,
        passed: sliceDrop <= tolerance,
        detail: `${head.head} ${name} on ${slice} (${value.support} samples): ${format(value.value)} against deployed ` +
          `${format(old.value)} (${change(sliceDrop)}, tolerance ${format(tolerance)})`,
      });
    }
  }
  for (const head of Object.keys(deployed?.heads ?? {})) {
    if (!(head in candidate.heads)) {
      checks.push({ check: 'missing-head', head, slice: null, passed: false, detail: `${head}: the deployed model has this head and the candidate does not` });
    }
  }
  checks.push({
    check: 'latency',
    head: null,
    slice: null,
    passed: candidate.latencyMs.p99 <= policy.maxLatencyP99Ms,
    detail: `p99 latency ${candidate.latencyMs.p99.toFixed(2)} ms (budget ${policy.maxLatencyP99Ms} ms)`,
  });
  checks.push({
    check: 'size',
    head: null,
    slice: null,
    passed: candidate.sizeBytes <= policy.maxSizeBytes,
    detail: `model file ${candidate.sizeBytes} bytes (budget ${policy.maxSizeBytes} bytes)`,
  });
  const failed = checks.filter((check) => !check.passed);
  return { publish: failed.length === 0, checks, reasons: failed.map((check) => check.detail) };
}
