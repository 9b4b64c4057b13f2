import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { computeSampleId, sha256Hex, type LabelValue, type SampleRecord } from '@fieldloop/contracts';
import { prepareEncodedImage, type PreparedImage } from '../image/prepare-image.ts';
import { applyTransforms, LabelTransformError } from '../mapping/label-transform.ts';
import { MappingError } from '../mapping/load-mapping.ts';
import type { Mapping } from '../mapping/mapping.ts';
import { SkipLog, type SourceReport } from './ingest-report.ts';
import { findLabelFile, labelFileTopic, readLabelFile, type LabelRow } from './label-file.ts';
import type { ProgressCallback } from './ingest-recording.ts';
import type { SampleSink } from './sample-sink.ts';

export interface IngestFolderOptions {
  /** Null only checks the folder: counts labels and readable images. */
  mapping: Mapping | null;
  sink: SampleSink | null;
  onProgress?: ProgressCallback;
}

const NUMBER_PATTERN = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

interface RowContext {
  mapping: Mapping;
  row: LabelRow;
  labelFile: string;
  root: string;
  file: string;
  origin: string;
  recording: string;
  bytes: Buffer;
  prepared: PreparedImage;
  unlabelled: Record<string, number>;
  skipped: SkipLog;
}

/** Builds the sample record of one label-file row, or returns null when it has no usable label. */
function sampleFromRow(context: RowContext): SampleRecord | null {
  const { mapping, row, labelFile, root, file, origin, recording, bytes, prepared, unlabelled, skipped } = context;
  const labels: Record<string, LabelValue> = {};
  for (const label of mapping.labels) {
    const raw = row.columns[label.field];
    if (raw === undefined || raw === '') {
      unlabelled[label.head] = (unlabelled[label.head] ?? 0) + 1;
      continue;
    }
    // Label files are text; a cell that is a decimal number becomes a number, as the same
    // label read from a recording's numeric field would be.
    const value = NUMBER_PATTERN.test(raw.trim()) ? Number(raw) : raw;
    try {
      labels[label.head] = applyTransforms(value, label.transforms);
    } catch (error) {
      if (!(error instanceof LabelTransformError)) throw error;
      throw new MappingError(`mapping ${mapping.source}: label ${label.head} of ${origin}: ${error.message}`);
    }
  }
  const labelled = Object.keys(labels).length;
  if (labelled === 0 || (mapping.requireAllLabels && labelled < mapping.labels.length)) {
    skipped.add(`${origin}: missing labels`);
    return null;
  }

  const tags = mapping.tags.flatMap((tag) => (tag.kind === 'static' ? [tag.value] : [])).sort();
  const relativePath = relative(root, file);
  let splitKey = recording;
  if (mapping.split.by === 'file') splitKey = `${recording}/${relativePath}`;
  else if (mapping.split.by === 'column') splitKey = `${recording}#${row.columns[mapping.split.column] ?? ''}`;
  const inputSha256 = sha256Hex(prepared.input);
  return {
    id: computeSampleId(inputSha256, labels, tags),
    imageSha256: sha256Hex(bytes),
    inputSha256,
    width: prepared.width,
    height: prepared.height,
    labels,
    tags,
    source: { recording, topic: labelFileTopic(labelFile), logTimeNs: null, file: relativePath },
    splitKey,
  };
}

/**
 * Reads an image folder with a label file. Images are recognised by their bytes, so PNG files
 * named `.jpg` are read as PNG.
 */
export async function ingestFolder(folder: string, options: IngestFolderOptions): Promise<SourceReport> {
  const { mapping, sink } = options;
  const root = resolve(folder);
  const labelFile = mapping?.folder?.labelFile ? join(root, mapping.folder.labelFile) : await findLabelFile(root);
  const rows = await readLabelFile(labelFile, mapping?.folder?.pathColumn ?? null);
  const recording = basename(root);
  const skipped = new SkipLog();
  const unlabelled: Record<string, number> = {};
  const perColumn = new Map<string, number>();
  let samples = 0;

  for (const label of mapping?.labels ?? []) {
    unlabelled[label.head] = 0;
    if (rows[0] && !(label.field in rows[0].columns)) {
      throw new MappingError(
        `mapping ${mapping?.source}: label ${label.head} reads column ${label.field}, which ${labelFile} lacks ` +
          `(columns: ${Object.keys(rows[0].columns).join(', ')})`,
      );
    }
  }

  const resize = mapping?.image ?? { width: 32, height: 32, fit: 'fill' as const };
  for (const [index, row] of rows.entries()) {
    for (const name of Object.keys(row.columns)) perColumn.set(name, (perColumn.get(name) ?? 0) + 1);
    const file = isAbsolute(row.path) ? row.path : join(root, row.path);
    const origin = `${relative(root, file)} (${labelFileTopic(labelFile)} line ${row.line})`;

    let bytes: Buffer;
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a regular file');
      bytes = await readFile(file);
    } catch (error) {
      skipped.add(`${origin}: cannot read the image: ${(error as Error).message}`);
      continue;
    }
    let prepared;
    try {
      prepared = await prepareEncodedImage(bytes, resize, origin);
    } catch (error) {
      skipped.add((error as Error).message);
      continue;
    }
    options.onProgress?.(index + 1);

    if (!mapping || !sink) continue;
    const record = sampleFromRow({ mapping, row, labelFile, root, file, origin, recording, bytes, prepared, unlabelled, skipped });
    if (!record) continue;
    await sink.add(record, { image: bytes, input: prepared.input });
    samples += 1;
  }

  return {
    path: root,
    format: 'image-folder',
    recording,
    files: [labelFile],
    topics: [...perColumn.entries()].map(([column, count]) => ({
      topic: column,
      type: 'label-column',
      encoding: 'text',
      messages: count,
      declaredMessages: rows.length,
      firstLogTimeNs: null,
      lastLogTimeNs: null,
      decodeErrors: 0,
      firstDecodeError: null,
    })),
    losses: [],
    samples,
    skipped: skipped.count,
    skipReasons: skipped.reasons,
    unlabelled,
  };
}
