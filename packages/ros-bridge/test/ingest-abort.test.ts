import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SampleRecord } from '@fieldloop/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMessageDecoder, DefinitionRegistry } from '../src/decode/index.ts';
import { ingestRecording } from '../src/ingest/ingest-recording.ts';
import type { SampleBlobs } from '../src/ingest/sample-sink.ts';
import { parseMapping } from '../src/mapping/load-mapping.ts';
import { openRecording } from '../src/recording/open-recording.ts';
import { ArraySink } from './support/array-sink.ts';
import { buildDrive, DRIVE_TOPICS, writeDriveMcap } from './support/drive-recording.ts';

const mapping = parseMapping(
  {
    image: { topic: DRIVE_TOPICS.image, width: 8, height: 6 },
    labels: { steering: { topic: DRIVE_TOPICS.steering, field: 'data', tolerance_ms: 45 } },
    split: { by: 'segment', seconds: 1 },
  },
  'abort.yaml',
);

/** A sink that aborts the ingest once it has `limit` samples. */
class AbortingSink extends ArraySink {
  constructor(
    private readonly limit: number,
    private readonly controller: AbortController,
  ) {
    super();
  }

  override async add(record: SampleRecord, blobs: SampleBlobs): Promise<void> {
    await super.add(record, blobs);
    if (this.samples.length === this.limit) this.controller.abort();
  }
}

describe('ingest stopped by a signal', () => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-abort-'));
    file = join(dir, 'drive.mcap');
    await writeDriveMcap(file, await buildDrive(30));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('emits no more samples after the abort', async () => {
    const full = new ArraySink();
    await ingestRecording(await openRecording(file), { mapping, decoder: createMessageDecoder({ definitions: new DefinitionRegistry() }), sink: full });

    const controller = new AbortController();
    const stopped = new AbortingSink(5, controller);
    const report = await ingestRecording(await openRecording(file), {
      mapping,
      decoder: createMessageDecoder({ definitions: new DefinitionRegistry() }),
      sink: stopped,
      signal: controller.signal,
    });
    expect(full.samples.length).toBeGreaterThan(20);
    expect(report.samples).toBe(5);
    // The samples before the stop are those of a full run, so a resumed run that skips them continues alike.
    expect(stopped.samples.map((sample) => sample.record.id)).toEqual(full.samples.slice(0, 5).map((sample) => sample.record.id));
  });
});
