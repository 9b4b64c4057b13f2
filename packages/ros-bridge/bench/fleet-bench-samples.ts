import { createCipheriv, createHash } from 'node:crypto';
import { computeSampleId, sha256Hex, type SampleRecord } from '@fieldloop/contracts';
import { encodeSample } from '../src/fleet/sample-codec.ts';

const WIDTH = 64;
const HEIGHT = 64;
const IMAGE_BYTES = 7 * 1024;
/** Robot id and boot id of the plain payloads, which only need the size of a fleet message. */
const PLAIN_ROBOT = 'bench-robot';
const PLAIN_BOOT_ID = '0'.repeat(32);

export interface BenchSample {
  record: SampleRecord;
  image: Buffer;
  input: Buffer;
}

/**
 * Returns `bytes` pseudo-random bytes from AES-128-CTR keyed by the seed, so that every process
 * given the same seed builds the same samples.
 */
function seededBytes(seed: string, bytes: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([cipher.update(Buffer.alloc(bytes)), cipher.final()]);
}

/** Builds `count` samples of a 64x64 RGB input and a 7 KiB image each, the same for the same seed. */
export function makeBenchSamples(count: number, seed: string): BenchSample[] {
  const inputBytes = WIDTH * HEIGHT * 3;
  const stream = seededBytes(seed, count * (inputBytes + IMAGE_BYTES));
  const samples: BenchSample[] = [];
  for (let i = 0; i < count; i += 1) {
    const offset = i * (inputBytes + IMAGE_BYTES);
    const input = stream.subarray(offset, offset + inputBytes);
    const image = stream.subarray(offset + inputBytes, offset + inputBytes + IMAGE_BYTES);
    const inputSha256 = sha256Hex(input);
    const labels = { steering: i % 90 };
    const record: SampleRecord = {
      id: computeSampleId(inputSha256, labels, []),
      imageSha256: sha256Hex(image),
      inputSha256,
      width: WIDTH,
      height: HEIGHT,
      labels,
      tags: [],
      source: { recording: 'bench', topic: '/camera', logTimeNs: String(1_700_000_000_000_000_000n + BigInt(i)), file: 'live' },
      splitKey: `bench-${createHash('md5').update(String(i)).digest('hex').slice(0, 6)}`,
    };
    samples.push({ record, image, input });
  }
  return samples;
}

/** Encodes each sample as the fleet message that the uplink would send, for the plain mqtt.js run. */
export function plainPayloads(samples: readonly BenchSample[]): Buffer[] {
  return samples.map((sample, sequence) =>
    encodeSample({ robot: PLAIN_ROBOT, bootId: PLAIN_BOOT_ID, sequence, record: sample.record, image: sample.image, input: sample.input, extra: null }),
  );
}
