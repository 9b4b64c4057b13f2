import type { HeadSpec } from '@fieldloop/contracts';
import type { PreparedSample } from '../data/store-samples.ts';

/** The headline metric of one head on a set of samples. */
export interface HeadMetric {
  /** `accuracy` for classification and binary heads, `mae` (label units) for regression heads. */
  name: 'accuracy' | 'mae';
  value: number;
  /** Samples that had a label for this head. */
  count: number;
}

/**
 * Computes a head's metric from raw outputs per sample (logits, one logit, or the normalised
 * value). Samples without a label are skipped; with none left the value is NaN.
 */
export function headMetric(head: HeadSpec, samples: PreparedSample[], outputs: ArrayLike<number>[]): HeadMetric {
  let count = 0;
  let sum = 0;
  samples.forEach((sample, i) => {
    const target = sample.targets[head.name];
    const output = outputs[i];
    if (target === null || target === undefined || output === undefined) return;
    count++;
    if (head.kind === 'classification') {
      let best = 0;
      for (let c = 1; c < output.length; c++) if (output[c]! > output[best]!) best = c;
      sum += best === target ? 1 : 0;
    } else if (head.kind === 'binary') {
      sum += (output[0]! > 0 ? 1 : 0) === target ? 1 : 0;
    } else {
      const std = head.normalization?.std ?? 1;
      sum += Math.abs(output[0]! - target) * std;
    }
  });
  return { name: head.kind === 'regression' ? 'mae' : 'accuracy', value: count === 0 ? Number.NaN : sum / count, count };
}

/**
 * Returns the share of the teacher's metric that the student keeps: student/teacher accuracy, or
 * teacher/student error for regression (1 when equal, below 1 when the student is worse).
 */
export function retainedShare(teacher: HeadMetric, student: HeadMetric): number {
  if (Number.isNaN(teacher.value) || Number.isNaN(student.value)) return Number.NaN;
  if (teacher.name === 'accuracy') return teacher.value === 0 ? Number.NaN : student.value / teacher.value;
  if (student.value > 0) return teacher.value / student.value;
  return teacher.value === 0 ? 1 : Number.POSITIVE_INFINITY;
}
