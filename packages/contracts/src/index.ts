export type {
  LabelValue,
  SampleRecord,
  SampleSource,
  SnapshotManifest,
  SnapshotStats,
  Split,
} from './sample-record.ts';
export { MAX_LABEL_VALUES_PER_HEAD } from './sample-record.ts';
export { SPLITS } from './splits.ts';
export { findSharedData } from './shared-data.ts';
export { computeSampleId, sha256Hex } from './sample-id.ts';
export type { CliCommand, CliContext, CliOption, CliResult, Logger, Progress } from './cli-command.ts';
export type { HeadKind, HeadRole, HeadSpec, InputSpec } from './head-spec.ts';
export type { BundleManifest, ModelFormat } from './bundle-manifest.ts';
export { assertFleetId, fleetTopics } from './fleet-topics.ts';
export { mulberry32Next, seededRandom } from './seeded-random.ts';
export { compareBigInt } from './compare-bigint.ts';
export { LITERT_WEBGPU_WARNING, TFJS_CPU_BANNER, withoutConsoleWarning } from './without-console-warning.ts';
