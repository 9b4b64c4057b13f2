import type { HeadSpec, LabelValue, Split } from '@fieldloop/contracts';
import type { DatasetStore, SnapshotRef } from '@fieldloop/dataset';
import type { HeadConfig } from '../model/teacher-config.ts';

/** Orders class names numerically when all are numbers (so "10" follows "9"), else by string. */
export function sortClassNames(names: string[]): string[] {
  const numeric = names.every((name) => name.trim() !== '' && Number.isFinite(Number(name)));
  return [...names].sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Maps a label to a binary target; returns null for values that are not a recognisable boolean. */
export function binaryTarget(value: LabelValue): number | null {
  if (value === true || value === 1 || value === 'true' || value === '1') return 1;
  if (value === false || value === 0 || value === 'false' || value === '0') return 0;
  return null;
}

/**
 * Builds the contract HeadSpecs of a snapshot: classes of classification heads from every label
 * value in the snapshot, and label normalisation of regression heads from the train split.
 * Throws when a configured head has no labels at all in the snapshot.
 */
export function buildHeadSpecs(store: DatasetStore, snapshot: SnapshotRef, heads: HeadConfig[], trainSplit: Split = 'train'): HeadSpec[] {
  const stats = store.stats(snapshot);
  return heads.map((head) => {
    const counts = stats.perLabel[head.name];
    if (counts === undefined || Object.keys(counts).length === 0) {
      const known = Object.keys(stats.perLabel).join(', ') || 'none';
      throw new Error(`Head '${head.name}' has no labels in snapshot ${String(snapshot)} (label keys there: ${known}). Fix the head name or the mapping.`);
    }
    const spec: HeadSpec = { name: head.name, kind: head.kind, role: head.role, weight: head.weight };
    if (head.kind === 'classification') {
      // Statistics count a limited number of distinct values per head, so a head over the limit is read in full.
      const overflow = stats.perLabelOverflow?.[head.name] ?? 0;
      spec.classes = sortClassNames(overflow > 0 ? labelValuesOf(store, snapshot, head.name) : Object.keys(counts));
    }
    if (head.kind === 'binary') spec.classes = ['false', 'true'];
    if (head.kind === 'regression') spec.normalization = regressionNormalization(store, snapshot, head.name, trainSplit);
    return spec;
  });
}

/** Returns every distinct value of a head's labels in a snapshot, as `String(value)`. */
function labelValuesOf(store: DatasetStore, snapshot: SnapshotRef, name: string): string[] {
  const values = new Set<string>();
  for (const record of store.samples(snapshot)) {
    const value = record.labels[name];
    if (value !== undefined) values.add(String(value));
  }
  return [...values];
}

function regressionNormalization(store: DatasetStore, snapshot: SnapshotRef, name: string, split: Split): { mean: number; std: number } {
  let count = 0;
  let sum = 0;
  let sumSquares = 0;
  for (const record of store.samples(snapshot, { split })) {
    const value = record.labels[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    count++;
    sum += value;
    sumSquares += value * value;
  }
  if (count === 0) return { mean: 0, std: 1 };
  const mean = sum / count;
  const variance = Math.max(sumSquares / count - mean * mean, 0);
  const std = Math.sqrt(variance);
  return { mean, std: std > 1e-8 ? std : 1 };
}

/** Converts a label to the head's numeric target, or null when the label cannot be used. */
export function labelTarget(head: HeadSpec, value: LabelValue | undefined): number | null {
  if (value === undefined) return null;
  switch (head.kind) {
    case 'classification': {
      const index = head.classes?.indexOf(String(value)) ?? -1;
      return index >= 0 ? index : null;
    }
    case 'binary':
      return binaryTarget(value);
    case 'regression': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return null;
      const { mean, std } = head.normalization ?? { mean: 0, std: 1 };
      return (value - mean) / std;
    }
  }
}
