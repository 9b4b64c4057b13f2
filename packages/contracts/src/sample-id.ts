import { createHash } from 'node:crypto';
import type { LabelValue } from './sample-record.ts';

/**
 * Computes a sample's id: sha256 over its input image hash, its labels sorted by head and its
 * sorted tags. Two samples with the same pixels, labels and tags get the same id wherever they
 * were recorded, which is how the store keeps identical samples once.
 */
export function computeSampleId(inputSha256: string, labels: Record<string, LabelValue>, tags: readonly string[]): string {
  const sortedLabels = Object.keys(labels)
    .sort()
    .map((head) => [head, labels[head]]);
  const canonical = JSON.stringify({ input: inputSha256, labels: sortedLabels, tags: [...tags].sort() });
  return createHash('sha256').update(canonical).digest('hex');
}

/** Returns the sha256 of bytes as lowercase hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
