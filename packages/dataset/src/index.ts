export { BlobError, type BlobErrorCode } from './blob-error.ts';
export type { BlobPutOptions, BlobStaging, BlobStore, FileBlob, StagingRecovery } from './blob-store.ts';
export {
  DatasetStore,
  STORE_FILES,
  type DatasetStoreOptions,
  type NewSample,
  type SampleFilter,
  type SampleSighting,
  type SnapshotOptions,
  type SnapshotRef,
  type SnapshotSample,
} from './dataset-store.ts';
export { DatasetStoreError, type DatasetStoreErrorCode } from './dataset-store-error.ts';
export { FileLock, type FileLockErrors, type LockOwner } from './file-lock.ts';
export { APPLICATION_ID, SCHEMA_VERSION } from './index-schema.ts';
export { LocalBlobStore, type LocalBlobStoreOptions } from './local-blob-store.ts';
export { computeManifestHash, type ManifestMember } from './manifest-hash.ts';
export { PackedBlobStore, type PackedBlobStoreOptions } from './packed-blob-store.ts';
export type { SampleBlobs, SampleFileBlobs } from './sample-validation.ts';
export { isSha256Hex } from './is-sha256-hex.ts';
export { SnapshotBuilder, type AddSampleOptions } from './snapshot-builder.ts';
export { StoredSampleIds } from './stored-sample-ids.ts';
export { assignSplit, DEFAULT_SPLIT_RATIOS, validateSplitRatios, type SplitRatios } from './split-assigner.ts';
export { snapshotsCommand } from './snapshots-command.ts';
