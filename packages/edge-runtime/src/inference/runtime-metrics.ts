/** Counters and latency percentiles of a running runtime. */
export interface RuntimeMetricsSnapshot {
  frames: number;
  inferred: number;
  /** Live frames replaced by a newer one before inference started (newest frame wins). */
  dropped: number;
  /** Frames that could not be decoded, skipped. */
  malformed: number;
  /** Inferences that threw, skipped. */
  errors: number;
  /** Inferences slower than the latency budget. */
  overBudget: number;
  captured: number;
  capped: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  fps: number;
}

const WINDOW = 4096;

/** Keeps the last 4096 latencies for percentiles, and counters since the start. */
export class RuntimeMetrics {
  frames = 0;
  inferred = 0;
  dropped = 0;
  malformed = 0;
  errors = 0;
  overBudget = 0;
  captured = 0;
  capped = 0;
  private readonly latencies: number[] = [];
  private started = performance.now();

  recordLatency(ms: number): void {
    this.inferred += 1;
    if (this.latencies.length === WINDOW) this.latencies.shift();
    this.latencies.push(ms);
  }

  /** Restarts the fps clock, for example when a source starts. */
  restartClock(): void {
    this.started = performance.now();
  }

  snapshot(): RuntimeMetricsSnapshot {
    const seconds = (performance.now() - this.started) / 1000;
    return {
      frames: this.frames,
      inferred: this.inferred,
      dropped: this.dropped,
      malformed: this.malformed,
      errors: this.errors,
      overBudget: this.overBudget,
      captured: this.captured,
      capped: this.capped,
      latencyP50Ms: percentile(this.latencies, 0.5),
      latencyP99Ms: percentile(this.latencies, 0.99),
      fps: seconds > 0 ? this.inferred / seconds : 0,
    };
  }
}

/** Nearest-rank percentile; NaN for an empty list. */
export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}
