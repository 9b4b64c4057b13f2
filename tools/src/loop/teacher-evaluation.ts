import type { DistillReport } from '@fieldloop/distill';
import type { ModelEvaluation } from '../gate/evaluation.ts';

/**
 * Builds the float teacher's evaluation from the metric per head that distillation measured,
 * for the report's comparison.
 * The gate does not use it, so its latency, size and prediction spread are left unmeasured (NaN).
 */
export function teacherEvaluation(label: string, heads: DistillReport['heads']): ModelEvaluation {
  const evaluation: ModelEvaluation = { label, heads: {}, latencyMs: { p50: Number.NaN, p99: Number.NaN }, sizeBytes: Number.NaN };
  for (const head of heads) {
    evaluation.heads[head.name] = {
      head: head.name,
      kind: head.kind,
      metric: { name: head.metric, value: head.teacher, higherIsBetter: head.metric !== 'mae' },
      slices: {},
      support: head.samples,
      spread: head.kind === 'regression'
        ? { kind: 'values', predictionStd: Number.NaN, labelStd: Number.NaN }
        : { kind: 'classes', distinctPredicted: Number.NaN, distinctLabels: Number.NaN, topClassShare: Number.NaN },
    };
  }
  return evaluation;
}
