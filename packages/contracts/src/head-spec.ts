/** Kind of prediction a task head makes, which also sets its loss. */
export type HeadKind = 'classification' | 'binary' | 'regression';

/** Primary heads carry the task; auxiliary heads are weighted by the loss's lambda. */
export type HeadRole = 'primary' | 'auxiliary';

/** One task head of a multi-task model, as trainer, distill and edge-runtime all see it. */
export interface HeadSpec {
  /** Head name; equals the label key in sample records and the model's output name. */
  name: string;
  kind: HeadKind;
  role: HeadRole;
  /** Weight of this head's loss inside its role's sum. */
  weight: number;
  /** Class names in output order, for classification heads; `[negative, positive]` for binary heads. */
  classes?: string[];
  /**
   * Label normalisation of regression heads: the model predicts `(label - mean) / std`, and
   * outputs are de-normalised with `value * std + mean` for reporting.
   */
  normalization?: { mean: number; std: number };
}

/** Size, layout and pixel normalisation of the model's input tensor. */
export interface InputSpec {
  width: number;
  height: number;
  channels: 3;
  /** Layout of the batch tensor. */
  layout: 'NHWC';
  /** Pixel value p (0..255) becomes `(p / 255 - mean) / std` per channel before the model. */
  mean: [number, number, number];
  std: [number, number, number];
}
