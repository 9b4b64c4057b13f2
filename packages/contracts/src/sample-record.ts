/** Origin of a sample: the recording, the topic and the log time of its image. */
export interface SampleSource {
  /** Stable name of the recording or image folder, used as the split key unless the mapping sets one. */
  recording: string;
  /** Topic of the image message, or the label file for image folders. */
  topic: string;
  /** Log time of the image message in nanoseconds since the Unix epoch, as a decimal string. */
  logTimeNs: string | null;
  /** Path of the file inside the recording or folder that held the image. */
  file: string;
}

/** A label value: a class name, a number, or a boolean for binary heads. */
export type LabelValue = string | number | boolean;

export type Split = 'train' | 'val' | 'test';

/** One training sample as the data set store keeps it. */
export interface SampleRecord {
  /** sha256 over the input blob hash, the labels and the tags; identical samples share it. */
  id: string;
  /** sha256 of the original encoded image bytes. */
  imageSha256: string;
  /** sha256 of the decoded, resized image: raw RGB bytes, row-major, `height * width * 3` long. */
  inputSha256: string;
  width: number;
  height: number;
  /** Labels by head name. A head without a label for this sample is absent. */
  labels: Record<string, LabelValue>;
  /** Scenario tags such as `night` or `rain`, sorted. */
  tags: string[];
  source: SampleSource;
  /** Key that decides the split, so all samples of one recording or run share a split. */
  splitKey: string;
}

/** Distinct label values per head that `SnapshotStats.perLabel` counts one by one. */
export const MAX_LABEL_VALUES_PER_HEAD = 1024;

/** Statistics of one snapshot. */
export interface SnapshotStats {
  samples: number;
  perSplit: Record<Split, number>;
  /**
   * Counts per head, then per label value as `String(value)`, so `true` is counted under `"true"`.
   * A head keeps at most `MAX_LABEL_VALUES_PER_HEAD` distinct values here. Samples with other values
   * are counted in `perLabelOverflow`, so a regression head with continuous values cannot make
   * the statistics grow with the data set.
   */
  perLabel: Record<string, Record<string, number>>;
  /**
   * Per head, the samples whose label value had no key in `perLabel` because the head already had
   * `MAX_LABEL_VALUES_PER_HEAD` distinct values. Absent when no head reached the limit.
   */
  perLabelOverflow?: Record<string, number>;
  perTag: Record<string, number>;
  /** Counts per source recording. A sample seen in several recordings counts once, under the first. */
  perSource: Record<string, number>;
}

/** The immutable description of one data set version. */
export interface SnapshotManifest {
  version: number;
  /** sha256 over the sorted sample ids with their splits and the parent's hash. */
  manifestHash: string;
  parentHash: string | null;
  createdAt: string;
  /** Free text naming what produced the snapshot, for example the ingest command line. */
  note: string;
  /** Samples this snapshot added to its parent's. */
  added: number;
  stats: SnapshotStats;
}
