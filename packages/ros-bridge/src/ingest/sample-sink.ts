import type { SampleRecord } from '@fieldloop/contracts';
import type { SampleBlobs } from '@fieldloop/dataset';

export type { SampleBlobs };

/** Destination of ingested samples: a data set snapshot being built, or a test's array. */
export interface SampleSink {
  add(record: SampleRecord, blobs: SampleBlobs): Promise<void>;
}
