export type {
  LabelValue,
  SampleRecord,
  SampleSource,
  SnapshotManifest,
  SnapshotStats,
  Split,
} from './sample-record.ts';
export { SPLITS } from './splits.ts';
export { findSharedData } from './shared-data.ts';
