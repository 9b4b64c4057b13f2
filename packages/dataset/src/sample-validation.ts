import type { LabelValue, SampleRecord } from '@fieldloop/contracts';
import type { FileBlob } from './blob-store.ts';
import { isSha256Hex } from './is-sha256-hex.ts';

/** Bytes of a sample as `SnapshotBuilder.add` takes them. */
export interface SampleBlobs {
  /** The original encoded image, as stored under `imageSha256`. */
  image: Uint8Array;
  /** The decoded, resized RGB pixels, as stored under `inputSha256`. */
  input: Uint8Array;
}

/**
 * Places of a sample's blobs in files that no one changes any more, as `SnapshotBuilder.add` takes
 * them from a caller that checked their hashes when it wrote them.
 */
export interface SampleFileBlobs {
  image: FileBlob;
  input: FileBlob;
}

const DECIMAL_NANOSECONDS = /^(0|[1-9][0-9]*)$/;

/**
 * Returns the problems of a sample record, one sentence each, or an empty list when it is valid.
 * It checks the field types and forms, that tags are sorted and unique, and that the input is
 * `width * height * 3` bytes long. Blob hashes are checked separately, against the bytes.
 */
export function findSampleRecordProblems(record: SampleRecord, input: { readonly length: number }): string[] {
  const problems: string[] = [];
  for (const field of ['id', 'imageSha256', 'inputSha256'] as const) {
    if (!isSha256Hex(record[field])) {
      problems.push(`${field} must be 64 lowercase hex digits, got ${JSON.stringify(record[field])}`);
    }
  }
  for (const field of ['width', 'height'] as const) {
    const value = record[field];
    if (!Number.isSafeInteger(value) || value <= 0) {
      problems.push(`${field} must be a positive integer, got ${String(value)}`);
    }
  }
  if (problems.length === 0 && input.length !== record.width * record.height * 3) {
    problems.push(
      `input is ${input.length} bytes, but width ${record.width} x height ${record.height} x 3 channels is ` +
        `${record.width * record.height * 3}`,
    );
  }
  problems.push(...findLabelProblems(record.labels), ...findTagProblems(record.tags));

  const source = record.source as Partial<SampleRecord['source']> | undefined;
  if (typeof source !== 'object' || source === null) {
    problems.push('source is missing');
  } else {
    for (const field of ['recording', 'topic', 'file'] as const) {
      if (typeof source[field] !== 'string') problems.push(`source.${field} must be a string`);
    }
    if (source.recording === '') problems.push('source.recording must not be empty');
    const logTime = source.logTimeNs;
    if (logTime !== null && (typeof logTime !== 'string' || !DECIMAL_NANOSECONDS.test(logTime))) {
      problems.push(`source.logTimeNs must be null or a decimal string, got ${JSON.stringify(logTime)}`);
    }
  }
  if (typeof record.splitKey !== 'string' || record.splitKey === '') problems.push('splitKey must be a non-empty string');
  return problems;
}

/** Serializes labels with the heads in ascending order, so equal labels give equal text. */
export function canonicalLabelsJson(labels: Record<string, LabelValue>): string {
  const sorted: Record<string, LabelValue> = {};
  for (const head of Object.keys(labels).sort()) sorted[head] = labels[head] as LabelValue;
  return JSON.stringify(sorted);
}

function findLabelProblems(labels: unknown): string[] {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return ['labels must be an object'];
  const problems: string[] = [];
  for (const [head, value] of Object.entries(labels)) {
    if (head === '') problems.push('a label head name is empty');
    const valid =
      typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (!valid) problems.push(`label ${JSON.stringify(head)} must be a string, finite number or boolean`);
  }
  return problems;
}

function findTagProblems(tags: unknown): string[] {
  if (!Array.isArray(tags)) return ['tags must be an array'];
  const problems: string[] = [];
  for (let i = 0; i < tags.length; i += 1) {
    const tag: unknown = tags[i];
    if (typeof tag !== 'string' || tag === '') {
      problems.push(`tag ${i} must be a non-empty string`);
    } else if (i > 0 && tag <= String(tags[i - 1])) {
      problems.push(`tags must be sorted and unique, but ${JSON.stringify(tag)} follows ${JSON.stringify(tags[i - 1])}`);
    }
  }
  return problems;
}
