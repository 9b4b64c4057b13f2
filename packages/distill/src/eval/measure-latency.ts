/** Batch-1 latency percentiles in milliseconds. */
export interface Latency {
  p50: number;
  p99: number;
  runs: number;
}

/** Times `run` after `warmup` untimed calls and returns the p50 and p99 of `runs` timed calls. */
export async function measureLatency(run: () => Promise<unknown>, runs = 100, warmup = 5): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const at = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
  return { p50: at(0.5), p99: at(0.99), runs };
}
