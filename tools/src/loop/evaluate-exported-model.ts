import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { labelTarget, loadTfliteModel, preparePixels, type TfliteEngine } from '@fieldloop/distill';
import { constantPrediction, constantPredictionMetric } from '../gate/constant-prediction.ts';
import type { HeadEvaluation, ModelEvaluation } from '../gate/evaluation.ts';
import type { ConfusionMatrix } from '../report/loop-report.ts';

export interface EvaluateExportedOptions {
  /** The exported `.tflite` file: the gate scores the file robots run, not the float checkpoint. */
  file: string;
  label: string;
  heads: HeadSpec[];
  input: InputSpec;
  storeDir: string;
  snapshot: number;
  /** Split to score; `all` scores every sample of the snapshot. */
  split: 'train' | 'val' | 'test' | 'all';
  engine?: TfliteEngine;
}

export interface ExportedModelScores {
  evaluation: ModelEvaluation;
  confusion: Record<string, ConfusionMatrix>;
  /** Batch-1 latency of every evaluated sample, in milliseconds. */
  latencySamplesMs: number[];
}

interface ScoredSample {
  tags: string[];
  target: number;
  label: number;
  output: Float32Array;
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

function standardDeviation(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  return Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length);
}

function percentile(sorted: readonly number[], share: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] as number;
}

/** Scores one head: accuracy for classification and binary heads, MAE in label units for regression. */
function evaluateHead(head: HeadSpec, scored: readonly ScoredSample[], train: readonly number[]): { evaluation: HeadEvaluation; confusion: ConfusionMatrix | null } {
  const isRegression = head.kind === 'regression';
  const { mean, std } = head.normalization ?? { mean: 0, std: 1 };
  const predict = (sample: ScoredSample): number => {
    if (head.kind === 'classification') return argmax(sample.output);
    if (head.kind === 'binary') return (sample.output[0] ?? 0) > 0 ? 1 : 0;
    return (sample.output[0] ?? 0) * std + mean;
  };
  const score = (subset: readonly ScoredSample[]): number => {
    if (subset.length === 0) return Number.NaN;
    const total = subset.reduce((sum, s) => sum + (isRegression ? Math.abs(predict(s) - s.label) : predict(s) === s.target ? 1 : 0), 0);
    return total / subset.length;
  };
  const slices: HeadEvaluation['slices'] = {};
  for (const tag of new Set(scored.flatMap((s) => s.tags))) {
    const subset = scored.filter((s) => s.tags.includes(tag));
    slices[tag] = { value: score(subset), support: subset.length };
  }
  const predictions = scored.map(predict);
  // Without train labels for this head, the constant is fitted on the scored samples themselves.
  const values = scored.map((s) => (isRegression ? s.label : s.target));
  const constant = constantPrediction(head.kind, train.length > 0 ? train : values);
  const baseline = constant === null ? Number.NaN : constantPredictionMetric(head.kind, constant, values);
  let spread: HeadEvaluation['spread'];
  let confusion: ConfusionMatrix | null = null;
  if (isRegression) {
    spread = { kind: 'values', predictionStd: standardDeviation(predictions), labelStd: standardDeviation(scored.map((s) => s.label)) };
  } else {
    const classes = head.kind === 'binary' ? (head.classes ?? ['false', 'true']) : (head.classes ?? []);
    const counts = new Map<number, number>();
    for (const p of predictions) counts.set(p, (counts.get(p) ?? 0) + 1);
    spread = {
      kind: 'classes',
      distinctPredicted: counts.size,
      distinctLabels: new Set(scored.map((s) => s.target)).size,
      topClassShare: predictions.length === 0 ? 0 : Math.max(...counts.values()) / predictions.length,
    };
    const matrix = classes.map(() => new Array<number>(classes.length).fill(0));
    scored.forEach((s, i) => {
      const row = matrix[s.target];
      const column = predictions[i] as number;
      if (row && column < row.length) row[column] = (row[column] ?? 0) + 1;
    });
    confusion = { classes, matrix };
  }
  return {
    evaluation: {
      head: head.name,
      kind: head.kind,
      metric: { name: isRegression ? 'mae' : 'accuracy', value: score(scored), higherIsBetter: !isRegression },
      slices,
      support: scored.length,
      spread,
      baseline,
    },
    confusion,
  };
}

/**
 * Runs an exported `.tflite` file over one split of a snapshot, sample by sample at batch 1. It
 * scores every head overall and per scenario tag, and returns the spread of its predictions for
 * the collapse check, confusion matrices and the latency of each run.
 */
export async function evaluateExportedModel(options: EvaluateExportedOptions): Promise<ExportedModelScores> {
  const model = await loadTfliteModel(options.file, options.engine ?? 'tfjs-tflite');
  const store = await DatasetStore.open(options.storeDir, { readOnly: true });
  const perHead = new Map<string, ScoredSample[]>(options.heads.map((head) => [head.name, []]));
  const trainLabels = new Map<string, number[]>(options.heads.map((head) => [head.name, []]));
  const latencies: number[] = [];
  try {
    for (const record of store.samples(options.snapshot, { split: 'train' })) {
      for (const head of options.heads) {
        const target = labelTarget(head, record.labels[head.name]);
        if (target !== null) trainLabels.get(head.name)?.push(head.kind === 'regression' ? Number(record.labels[head.name]) : target);
      }
    }
    const inputName = model.inputs[0]?.name;
    if (inputName === undefined) throw new Error(`${options.file} has no input tensor`);
    for (const record of store.samples(options.snapshot, options.split === 'all' ? {} : { split: options.split })) {
      const targets = options.heads.map((head) => [head, labelTarget(head, record.labels[head.name])] as const);
      if (targets.every(([, target]) => target === null)) continue;
      const pixels = preparePixels(new Uint8Array(await store.readInput(record)), record.width, record.height, options.input);
      const start = performance.now();
      const outputs = await model.run({ [inputName]: pixels });
      latencies.push(performance.now() - start);
      for (const [head, target] of targets) {
        if (target === null) continue;
        const output = outputs[head.name];
        if (output === undefined) throw new Error(`${options.file} has no output named ${head.name}; export the model with one output per head`);
        const label = head.kind === 'regression' ? Number(record.labels[head.name]) : target;
        perHead.get(head.name)?.push({ tags: record.tags, target, label, output: Float32Array.from(output as ArrayLike<number>) });
      }
    }
  } finally {
    model.close();
    await store.close();
  }
  const heads: Record<string, HeadEvaluation> = {};
  const confusion: Record<string, ConfusionMatrix> = {};
  for (const head of options.heads) {
    const scored = perHead.get(head.name) ?? [];
    if (scored.length === 0) continue;
    const result = evaluateHead(head, scored, trainLabels.get(head.name) ?? []);
    heads[head.name] = result.evaluation;
    if (result.confusion) confusion[head.name] = result.confusion;
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    evaluation: {
      label: options.label,
      heads,
      latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) },
      sizeBytes: (await stat(options.file)).size,
    },
    confusion,
    latencySamplesMs: latencies,
  };
}

