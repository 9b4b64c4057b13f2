/** Limits a candidate must stay within to be published. */
export interface GatePolicy {
  /**
   * Largest allowed worsening of a head's metric against the deployed model, in the metric's own
   * unit (for example 0.01 is one accuracy point; for MAE, in label units). Heads not listed use
   * `defaultTolerance`.
   */
  tolerance: Record<string, number>;
  /** Tolerance of heads whose metric is higher-is-better (accuracy), in metric units. */
  defaultTolerance: number;
  /**
   * Tolerance of heads whose metric is an error (MAE), as a share of the deployed model's error,
   * because an error's scale depends on the label's unit.
   */
  defaultRelativeErrorTolerance: number;
  /** Slices with fewer samples than this are reported but not gated, because their metric is noise. */
  minSliceSupport: number;
  /** A classification head whose most frequent prediction covers more than this share is collapsed. */
  maxTopClassShare: number;
  /** A regression head whose prediction spread is below this share of the label spread is collapsed. */
  minRelativeSpread: number;
  /**
   * Minimum improvement over the best constant predictor (`HeadEvaluation.baseline`) a head must
   * show: in accuracy points for classes, as a share of the baseline's MAE for regression. Null
   * reports the baseline in the gate's checks without blocking on it.
   */
  minGainOverBaseline: number | null;
  /** Budget of p99 batch-1 latency in milliseconds. */
  maxLatencyP99Ms: number;
  /** Budget of the model file size in bytes. */
  maxSizeBytes: number;
}

export const DEFAULT_GATE_POLICY: GatePolicy = {
  tolerance: {},
  defaultTolerance: 0.01,
  defaultRelativeErrorTolerance: 0.05,
  minSliceSupport: 20,
  maxTopClassShare: 0.95,
  minRelativeSpread: 0.05,
  minGainOverBaseline: null,
  maxLatencyP99Ms: 50,
  maxSizeBytes: 5 * 1024 * 1024,
};
