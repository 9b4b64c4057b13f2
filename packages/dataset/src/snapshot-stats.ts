import { MAX_LABEL_VALUES_PER_HEAD, type SampleRecord, type SnapshotStats, type Split } from '@fieldloop/contracts';

export function emptySnapshotStats(): SnapshotStats {
  return { samples: 0, perSplit: { train: 0, val: 0, test: 0 }, perLabel: {}, perTag: {}, perSource: {} };
}

/**
 * Counts one member sample into `stats`. Label values are keyed by `String(value)`, so `true`
 * becomes `"true"` and `3` becomes `"3"`. A head with `MAX_LABEL_VALUES_PER_HEAD` distinct values
 * counts a new value in `perLabelOverflow` instead. A sample counts once under `perSource`, for the
 * recording it was first stored from, even when lineage lists more recordings.
 */
export function addToSnapshotStats(
  stats: SnapshotStats,
  sample: Pick<SampleRecord, 'labels' | 'tags' | 'source'>,
  split: Split,
): void {
  stats.samples += 1;
  stats.perSplit[split] += 1;
  for (const [head, value] of Object.entries(sample.labels)) {
    const counts = (stats.perLabel[head] ??= {});
    const key = String(value);
    const count = Object.hasOwn(counts, key) ? counts[key] : undefined;
    if (count !== undefined) counts[key] = count + 1;
    else if (Object.keys(counts).length < MAX_LABEL_VALUES_PER_HEAD) counts[key] = 1;
    else {
      const overflow = (stats.perLabelOverflow ??= {});
      overflow[head] = (overflow[head] ?? 0) + 1;
    }
  }
  for (const tag of sample.tags) stats.perTag[tag] = (stats.perTag[tag] ?? 0) + 1;
  const recording = sample.source.recording;
  stats.perSource[recording] = (stats.perSource[recording] ?? 0) + 1;
}

/** Returns a copy of `stats` with every map's keys in ascending order, for stable JSON. */
export function sortSnapshotStats(stats: SnapshotStats): SnapshotStats {
  const perLabel: Record<string, Record<string, number>> = {};
  for (const head of Object.keys(stats.perLabel).sort()) perLabel[head] = sortKeys(stats.perLabel[head] ?? {});
  return {
    samples: stats.samples,
    perSplit: { train: stats.perSplit.train, val: stats.perSplit.val, test: stats.perSplit.test },
    perLabel,
    ...(stats.perLabelOverflow === undefined ? {} : { perLabelOverflow: sortKeys(stats.perLabelOverflow) }),
    perTag: sortKeys(stats.perTag),
    perSource: sortKeys(stats.perSource),
  };
}

function sortKeys(counts: Record<string, number>): Record<string, number> {
  const sorted: Record<string, number> = {};
  for (const key of Object.keys(counts).sort()) sorted[key] = counts[key] ?? 0;
  return sorted;
}
