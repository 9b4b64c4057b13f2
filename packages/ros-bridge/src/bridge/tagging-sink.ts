import { computeSampleId, type SampleRecord } from '@fieldloop/contracts';
import type { SampleBlobs, SampleSink } from '../ingest/sample-sink.ts';

/** Throws when a tag is empty or only white space, naming the `--tag` option that gives them. */
export function checkScenarioTags(tags: readonly string[]): void {
  if (tags.some((tag) => tag.trim() === '')) throw new Error('a --tag value is empty; give a scenario tag such as field or robot:rc1');
}

/**
 * A sample sink that adds fixed scenario tags, such as `field` or `robot:rc1`, to every sample
 * before passing it on. Tags are part of a sample's id, so the id is computed again: a tagged
 * sample is a different sample from the same frame ingested without those tags.
 */
export class TaggingSink implements SampleSink {
  private readonly tags: readonly string[];
  private readonly inner: SampleSink;

  constructor(tags: readonly string[], inner: SampleSink) {
    checkScenarioTags(tags);
    this.tags = tags;
    this.inner = inner;
  }

  add(record: SampleRecord, blobs: SampleBlobs): Promise<void> {
    const tags = [...new Set([...record.tags, ...this.tags])].sort();
    const tagged: SampleRecord = { ...record, tags, id: computeSampleId(record.inputSha256, record.labels, tags) };
    return this.inner.add(tagged, blobs);
  }
}
