import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeSampleId, sha256Hex, type LabelValue, type SampleRecord } from '@fieldloop/contracts';
import { DatasetStore, type NewSample } from '@fieldloop/dataset';

export const SYNTHETIC_SIZE = 16;

/**
 * Draws a learnable image: signs are a coloured square whose colour encodes the class; steering
 * frames are a bright bar whose horizontal position encodes the steering value in [-1, 1].
 */
function drawImage(kind: 'sign' | 'steering', value: number, variant: number): Uint8Array {
  const size = SYNTHETIC_SIZE;
  const pixels = new Uint8Array(size * size * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (variant * 37 + i * 11) % 23;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const offset = (y * size + x) * 3;
      if (kind === 'sign' && x >= 4 && x < 12 && y >= 4 && y < 12) {
        pixels[offset + (value % 3)] = 220;
        if (value >= 3) pixels[offset + ((value + 1) % 3)] = 220;
      }
      if (kind === 'steering') {
        const column = Math.round(((value + 1) / 2) * (size - 3));
        if (x >= column && x < column + 3) pixels[offset] = pixels[offset + 1] = pixels[offset + 2] = 240;
      }
    }
  }
  return pixels;
}

function sample(kind: 'sign' | 'steering', value: number, variant: number, tags: string[]): NewSample {
  const input = drawImage(kind, value, variant);
  const inputSha256 = sha256Hex(input);
  const labels: Record<string, LabelValue> = kind === 'sign' ? { sign: String(value) } : { steering: value };
  const record: SampleRecord = {
    id: computeSampleId(inputSha256, labels, tags),
    imageSha256: inputSha256,
    inputSha256,
    width: SYNTHETIC_SIZE,
    height: SYNTHETIC_SIZE,
    labels,
    tags,
    source: { recording: kind, topic: '/synthetic', logTimeNs: null, file: `${kind}-${variant}.raw` },
    splitKey: `${kind}-${variant}`,
  };
  return { record, image: input, input };
}

export interface SyntheticStoreOptions {
  signs?: number;
  steering?: number;
  signClasses?: number;
  /** First variant number, so a second snapshot adds new samples. */
  offset?: number;
}

/** Creates samples for a synthetic store: `signs` sign crops and `steering` frames with a `night` tag on every third. */
export function syntheticSamples(options: SyntheticStoreOptions = {}): NewSample[] {
  const classes = options.signClasses ?? 3;
  const offset = options.offset ?? 0;
  const samples: NewSample[] = [];
  for (let i = 0; i < (options.signs ?? 60); i++) samples.push(sample('sign', i % classes, offset + i, []));
  for (let i = 0; i < (options.steering ?? 60); i++) {
    const value = Math.round((((offset + i) * 0.37) % 2) * 100 - 100) / 100;
    samples.push(sample('steering', value, offset + i, i % 3 === 0 ? ['night'] : []));
  }
  return samples;
}

/** Creates a store in a new temp dir with one snapshot of synthetic samples (train 0.7, val 0.3). */
export async function createSyntheticStore(options: SyntheticStoreOptions = {}): Promise<{ dir: string; store: DatasetStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'trainer-store-'));
  const store = await DatasetStore.open(dir, { splitRatios: { train: 0.7, val: 0.3, test: 0 }, fsync: false });
  await store.createSnapshot({ note: 'synthetic', samples: syntheticSamples(options) });
  return { dir, store };
}
