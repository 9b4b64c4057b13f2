import type { HeadMetrics } from '../eval/evaluate-model.ts';
import { flattenHeadMetric } from '../train/train-teacher.ts';

function format(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '-';
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

/** Renders one line per head: each headline metric of each named column side by side. */
export function formatMetricTable(columns: Record<string, Record<string, HeadMetrics>>): string[] {
  const lines: string[] = [];
  const names = Object.keys(columns);
  const heads = [...new Set(names.flatMap((name) => Object.keys(columns[name] ?? {})))];
  for (const head of heads) {
    // A head with no labelled sample in every column (a tag slice without that label) has no metric to show.
    const counted = names.some((name) => (columns[name]?.[head]?.count ?? 0) > 0);
    if (!counted) continue;
    const parts = names.map((name) => {
      const metrics = columns[name]?.[head];
      if (metrics === undefined) return `${name}: -`;
      const flat = flattenHeadMetric(metrics);
      return `${name}: ${Object.entries(flat).map(([key, value]) => `${key} ${format(value)}`).join(', ')}`;
    });
    lines.push(`${head}  ${parts.join('  |  ')}`);
  }
  return lines;
}
