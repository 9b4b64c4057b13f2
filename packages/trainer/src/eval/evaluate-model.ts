import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { disposeBatch, makeBatch } from '../data/make-batches.ts';
import { labelTarget } from '../data/head-specs.ts';
import type { LoadedSample } from '../data/load-samples.ts';
import { classificationMetrics, rocAuc, type ClassificationMetrics } from './classification-metrics.ts';
import { regressionMetrics, type RegressionMetrics } from './regression-metrics.ts';

export type HeadMetrics =
  | ({ kind: 'classification' } & ClassificationMetrics)
  | ({ kind: 'binary'; rocAuc: number | null } & ClassificationMetrics)
  | ({ kind: 'regression' } & RegressionMetrics);

export interface EvaluationReport {
  samples: number;
  heads: Record<string, HeadMetrics>;
  /** The same metrics on the samples of each scenario tag. */
  byTag: Record<string, Record<string, HeadMetrics>>;
}

/** Raw model outputs per head, one row per sample. */
export type HeadOutputs = Record<string, number[][]>;

/** Runs the model over `samples` in batches and collects its outputs per head. */
export function predictOutputs(model: tf.LayersModel, samples: LoadedSample[], heads: HeadSpec[], input: InputSpec, batchSize = 32): HeadOutputs {
  const outputs: HeadOutputs = {};
  for (const head of heads) outputs[head.name] = [];
  for (let start = 0; start < samples.length; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, samples.length - start) }, (_, i) => start + i);
    const batch = makeBatch(samples, indices, heads, input);
    const predictions = tf.tidy(() => {
      const result = model.predict(batch.x);
      const list = Array.isArray(result) ? result : [result];
      return list.map((tensor) => tensor.arraySync() as number[][]);
    });
    disposeBatch(batch);
    heads.forEach((head, index) => outputs[head.name]!.push(...(predictions[index] ?? [])));
  }
  return outputs;
}

function argmax(row: number[]): number {
  let best = 0;
  row.forEach((value, index) => {
    if (value > (row[best] ?? -Infinity)) best = index;
  });
  return best;
}

/** Computes one head's metrics over the samples that have a label for it. Outputs are rows of logits or normalised values. */
export function headMetrics(head: HeadSpec, samples: LoadedSample[], outputs: number[][]): HeadMetrics {
  const truth: number[] = [];
  const rows: number[][] = [];
  samples.forEach((sample, index) => {
    const target = labelTarget(head, sample.labels[head.name]);
    if (target === null) return;
    truth.push(target);
    rows.push(outputs[index] ?? []);
  });
  const classes = head.classes ?? [];
  switch (head.kind) {
    case 'classification':
      return { kind: 'classification', ...classificationMetrics(truth, rows.map(argmax), classes) };
    case 'binary': {
      const logits = rows.map((row) => row[0] ?? 0);
      return {
        kind: 'binary',
        ...classificationMetrics(truth, logits.map((logit) => (logit > 0 ? 1 : 0)), classes),
        rocAuc: rocAuc(truth, logits),
      };
    }
    case 'regression': {
      const { mean, std } = head.normalization ?? { mean: 0, std: 1 };
      const labels = truth.map((value) => value * std + mean);
      const predicted = rows.map((row) => (row[0] ?? 0) * std + mean);
      return { kind: 'regression', ...regressionMetrics(labels, predicted) };
    }
  }
}

/** Computes every head's metrics on all samples and on each scenario tag's samples. */
export function evaluateOutputs(heads: HeadSpec[], samples: LoadedSample[], outputs: HeadOutputs): EvaluationReport {
  const forSubset = (indices: number[]): Record<string, HeadMetrics> => {
    const subset = indices.map((i) => samples[i]!);
    const result: Record<string, HeadMetrics> = {};
    for (const head of heads) {
      const rows = indices.map((i) => outputs[head.name]?.[i] ?? []);
      result[head.name] = headMetrics(head, subset, rows);
    }
    return result;
  };
  const all = samples.map((_, index) => index);
  const tags = [...new Set(samples.flatMap((sample) => sample.tags))].sort();
  const byTag: Record<string, Record<string, HeadMetrics>> = {};
  for (const tag of tags) byTag[tag] = forSubset(all.filter((i) => samples[i]!.tags.includes(tag)));
  return { samples: samples.length, heads: forSubset(all), byTag };
}

/**
 * Builds the outputs of trivial baselines: the training split's majority class for
 * classification and binary heads, and the training mean (normalised output 0) for regression.
 */
export function baselineOutputs(heads: HeadSpec[], train: LoadedSample[], count: number): HeadOutputs {
  const outputs: HeadOutputs = {};
  for (const head of heads) {
    let row: number[];
    if (head.kind === 'regression') {
      row = [0];
    } else {
      const counts = new Array<number>(head.kind === 'binary' ? 2 : (head.classes?.length ?? 0)).fill(0);
      for (const sample of train) {
        const target = labelTarget(head, sample.labels[head.name]);
        if (target !== null) counts[target]!++;
      }
      const majority = argmax(counts);
      row = head.kind === 'binary' ? [majority === 1 ? 1 : -1] : counts.map((_, index) => (index === majority ? 1 : 0));
    }
    outputs[head.name] = Array.from({ length: count }, () => row);
  }
  return outputs;
}

/** One number per head for tables and early stopping: macro F1, or MAE for regression. */
export function summaryMetric(metrics: HeadMetrics): { name: string; value: number } {
  return metrics.kind === 'regression' ? { name: 'mae', value: metrics.mae } : { name: 'macroF1', value: metrics.macro.f1 };
}
