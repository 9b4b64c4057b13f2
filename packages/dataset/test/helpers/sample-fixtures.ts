import { createHash } from 'node:crypto';
import { computeSampleId, type LabelValue, type SampleRecord } from '@fieldloop/contracts';
import type { NewSample } from '../../src/index.ts';

export interface SampleSpec {
  /** Seed of the pixel bytes; equal seeds give equal inputs. */
  seed: number;
  recording?: string;
  topic?: string;
  logTimeNs?: string | null;
  file?: string;
  labels?: Record<string, LabelValue>;
  tags?: string[];
  splitKey?: string;
  width?: number;
  height?: number;
  /** Extra bytes appended to the encoded image, to give the same pixels another image hash. */
  imageVariant?: string;
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Fills `length` bytes from a linear congruential generator, so that each seed gives other bytes. */
function pseudoRandomBytes(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < length; i += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** Builds a sample with real bytes and the id that computeSampleId gives it. */
export function makeSample(spec: SampleSpec): NewSample {
  const width = spec.width ?? 4;
  const height = spec.height ?? 3;
  const input = pseudoRandomBytes(spec.seed, width * height * 3);
  const image = new Uint8Array(Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n'), input, Buffer.from(spec.imageVariant ?? '')]));
  const labels = spec.labels ?? { terrain: spec.seed % 2 === 0 ? 'grass' : 'gravel' };
  const tags = [...(spec.tags ?? [])].sort();
  const inputSha256 = sha256(input);
  const recording = spec.recording ?? 'run-a';
  const record: SampleRecord = {
    id: computeSampleId(inputSha256, labels, tags),
    imageSha256: sha256(image),
    inputSha256,
    width,
    height,
    labels,
    tags,
    source: {
      recording,
      topic: spec.topic ?? '/camera/image_raw',
      logTimeNs: spec.logTimeNs === undefined ? String(1_700_000_000_000_000_000n + BigInt(spec.seed)) : spec.logTimeNs,
      file: spec.file ?? `${recording}_0.mcap`,
    },
    splitKey: spec.splitKey ?? recording,
  };
  return { record, image, input };
}

/** Builds `count` samples with seeds `firstSeed`, `firstSeed + 1`, … from one recording. */
export function makeSamples(count: number, firstSeed: number, spec: Omit<SampleSpec, 'seed'> = {}): NewSample[] {
  return Array.from({ length: count }, (_, i) => makeSample({ ...spec, seed: firstSeed + i }));
}
