import type { SampleRecord } from '@fieldloop/contracts';
import type { SampleBlobs, SampleSink } from '../../src/ingest/sample-sink.ts';

/** Collects samples in memory, for tests that check what ingest produced without a store. */
export class ArraySink implements SampleSink {
  readonly samples: Array<{ record: SampleRecord; blobs: SampleBlobs }> = [];

  async add(record: SampleRecord, blobs: SampleBlobs): Promise<void> {
    this.samples.push({ record, blobs });
  }
}
