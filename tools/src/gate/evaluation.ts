import type { HeadKind } from '@fieldloop/contracts';

/** Metric value with its direction, from which the gate tells which way is worse. */
export interface MetricValue {
  name: string;
  value: number;
  higherIsBetter: boolean;
}

/** Spread of a model's predictions on one head, used to detect collapsed outputs. */
export type PredictionSpread =
  | { kind: 'classes'; distinctPredicted: number; distinctLabels: number; topClassShare: number }
  | { kind: 'values'; predictionStd: number; labelStd: number };

/** Evaluation of one head of one model on one data set split. */
export interface HeadEvaluation {
  head: string;
  kind: HeadKind;
  /** The metric the gate compares: accuracy or macro F1 for classes, MAE or RMSE for regression. */
  metric: MetricValue;
  /** The same metric per scenario tag, with the number of samples behind it. */
  slices: Record<string, { value: number; support: number }>;
  support: number;
  spread: PredictionSpread;
  /**
   * The metric, on the same samples, of the best constant prediction fitted on the train split:
   * the most frequent class of a classification head, the median label of a regression head. A
   * model that does not beat it has learned nothing the gate can see.
   */
  baseline?: number;
}

/** Evaluation of one exported model file. */
export interface ModelEvaluation {
  /** Name of the model, for example `candidate v3` or `deployed v2`. */
  label: string;
  heads: Record<string, HeadEvaluation>;
  latencyMs: { p50: number; p99: number };
  sizeBytes: number;
}
