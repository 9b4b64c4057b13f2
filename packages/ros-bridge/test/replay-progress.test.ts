import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReplayProgressSink } from '../src/bridge/replay-progress.ts';
import { parseMapping } from '../src/mapping/load-mapping.ts';
import { ArraySink } from './support/array-sink.ts';
import { makeSample } from './fleet/support/field-samples.ts';

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const mapping = parseMapping({ image: { topic: '/camera', width: 8, height: 6 }, labels: { steering: { topic: '/servo', field: 'data' } } }, 'replay.yaml');

describe('ReplayProgressSink', () => {
  let dir: string;
  let recording: string;
  let progress: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-replay-progress-'));
    recording = join(dir, 'drive.mcap');
    writeFileSync(recording, 'recording bytes');
    progress = join(dir, 'queue.replay.json');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function replay(count: number, finish: boolean): Promise<{ sink: ReplayProgressSink; sent: ArraySink }> {
    const sent = new ArraySink();
    const sink = new ReplayProgressSink({ path: progress, recording, mapping, inner: sent, log: silent });
    for (let i = 0; i < count; i += 1) {
      const sample = makeSample(`frame${i}`);
      await sink.add(sample.record, sample.blobs);
    }
    if (finish) sink.finish();
    return { sink, sent };
  }

  it('resumes after the samples a killed run stored', async () => {
    // A run killed after 40 samples: the file was last written at 32.
    await replay(40, false);
    expect(JSON.parse(readFileSync(progress, 'utf8')).queued).toBe(32);

    const resumed = await replay(40, true);
    expect(resumed.sink.skipped).toBe(32);
    expect(resumed.sent.samples.map((sample) => sample.record.id)).toEqual(
      Array.from({ length: 8 }, (_, i) => makeSample(`frame${32 + i}`).record.id),
    );
    expect(JSON.parse(readFileSync(progress, 'utf8')).queued).toBe(40);
  });

  it('starts over for a changed recording or mapping', async () => {
    await replay(10, true);
    utimesSync(recording, new Date(), new Date(Date.now() + 5000));
    const changed = await replay(10, true);
    expect(changed.sink.skipped).toBe(0);
    expect(changed.sent.samples).toHaveLength(10);

    const other = parseMapping({ image: { topic: '/other', width: 8, height: 6 }, labels: { steering: { topic: '/servo', field: 'data' } } }, 'replay.yaml');
    const sink = new ReplayProgressSink({ path: progress, recording, mapping: other, inner: new ArraySink(), log: silent });
    const sample = makeSample('frame0');
    await sink.add(sample.record, sample.blobs);
    expect(sink.skipped).toBe(0);
    expect(existsSync(progress)).toBe(true);
  });
});
