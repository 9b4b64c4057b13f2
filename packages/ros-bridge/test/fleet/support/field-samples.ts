import { createHash } from 'node:crypto';
import { computeSampleId, sha256Hex, type LabelValue, type SampleRecord } from '@fieldloop/contracts';
import type { SampleBlobs } from '../../../src/ingest/sample-sink.ts';

export interface TestSample {
  record: SampleRecord;
  blobs: SampleBlobs;
}

/** Deterministic pseudo-random bytes, so each test sample has its own pixels. */
function bytesFor(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset, 0, Math.min(block.length, length - offset));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * Builds a valid sample with `width * height` RGB pixels derived from `seed`. The "image" is the
 * same bytes behind a fake header; the store and codec only check its hash.
 */
export function makeSample(seed: string, options: { width?: number; height?: number; labels?: Record<string, LabelValue> } = {}): TestSample {
  const width = options.width ?? 8;
  const height = options.height ?? 6;
  const input = bytesFor(seed, width * height * 3);
  const image = Buffer.concat([Buffer.from('IMG:'), input]);
  const labels = options.labels ?? { steering: (input[0] ?? 0) / 10 };
  const inputSha256 = sha256Hex(input);
  const record: SampleRecord = {
    id: computeSampleId(inputSha256, labels, ['field']),
    imageSha256: sha256Hex(image),
    inputSha256,
    width,
    height,
    labels,
    tags: ['field'],
    source: { recording: `field-${seed}`, topic: '/camera/image_raw', logTimeNs: '1700000000000000000', file: 'live' },
    splitKey: `field-${seed}`,
  };
  return { record, blobs: { image, input } };
}

/** Resolves once `condition` holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
