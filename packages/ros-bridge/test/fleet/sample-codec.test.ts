import { describe, expect, it } from 'vitest';
import {
  decodeFleetMessage,
  encodeSample,
  encodeSamplePayloads,
  FLEET_SCHEMA_VERSION,
  newBootId,
  SampleCodecError,
  type FieldSample,
} from '../../src/fleet/sample-codec.ts';
import { makeSample } from './support/field-samples.ts';

function fieldSample(seed = 'a', overrides: Partial<FieldSample> = {}): FieldSample {
  const { record, blobs } = makeSample(seed);
  return { robot: 'rover-1', bootId: newBootId(), sequence: 7, record, image: blobs.image, input: blobs.input, extra: null, ...overrides };
}

function codeOf(payload: Uint8Array): string {
  try {
    decodeFleetMessage(payload);
  } catch (error) {
    if (error instanceof SampleCodecError) return error.code;
    throw error;
  }
  return 'decoded';
}

describe('sample codec', () => {
  it('round-trips a sample', () => {
    const sample = fieldSample('a', { extra: { predictions: { steering: 0.25 }, triggers: ['low-confidence'] } });
    const decoded = decodeFleetMessage(encodeSample(sample));
    expect(decoded.kind).toBe('sample');
    if (decoded.kind !== 'sample') return;
    expect(decoded.sample.robot).toBe('rover-1');
    expect(decoded.sample.bootId).toBe(sample.bootId);
    expect(decoded.sample.sequence).toBe(7);
    expect(decoded.sample.record).toEqual(sample.record);
    expect(Buffer.from(decoded.sample.input).equals(Buffer.from(sample.input))).toBe(true);
    expect(Buffer.from(decoded.sample.image).equals(Buffer.from(sample.image))).toBe(true);
    expect(decoded.sample.extra).toEqual({ predictions: { steering: 0.25 }, triggers: ['low-confidence'] });
  });

  it('round-trips empty labels', () => {
    const { record, blobs } = makeSample('unlabelled', { labels: {} });
    const decoded = decodeFleetMessage(encodeSample({ robot: 'r', bootId: newBootId(), sequence: 0, record, image: blobs.image, input: blobs.input, extra: null }));
    expect(decoded.kind).toBe('sample');
    expect(decoded.kind === 'sample' ? decoded.sample.record.labels : null).toEqual({});
  });

  it('keeps small samples in one payload', () => {
    expect(encodeSamplePayloads(fieldSample(), 64 * 1024)).toHaveLength(1);
  });

  it('splits large samples into chunks', () => {
    const sample = fieldSample();
    const whole = encodeSample(sample);
    const payloads = encodeSamplePayloads(sample, 200);
    expect(payloads.length).toBe(Math.ceil(whole.length / (200 - (6 + 1 + 7 + 16 + 8 + 8))));
    for (const payload of payloads) expect(payload.length).toBeLessThanOrEqual(200);
    const chunks = payloads.map((payload) => decodeFleetMessage(payload));
    const data = chunks.map((chunk) => (chunk.kind === 'chunk' ? Buffer.from(chunk.chunk.data) : Buffer.alloc(0)));
    expect(Buffer.concat(data).equals(whole)).toBe(true);
    expect(chunks.every((chunk) => chunk.kind === 'chunk' && chunk.chunk.count === payloads.length)).toBe(true);
  });

  it('rejects a chunk size too small for the header', () => {
    expect(() => encodeSamplePayloads(fieldSample(), 60)).toThrow(/leaves .* bytes per chunk/);
  });

  it('rejects an invalid robot id', () => {
    expect(() => encodeSample(fieldSample('a', { robot: 'bad/robot' }))).toThrow(/invalid robot id/);
  });

  it('rejects wrong magic', () => {
    const payload = encodeSample(fieldSample());
    payload.write('XXXX', 0, 'ascii');
    expect(codeOf(payload)).toBe('bad-magic');
  });

  it('rejects another schema version', () => {
    const payload = encodeSample(fieldSample());
    payload.writeUInt8(FLEET_SCHEMA_VERSION + 1, 4);
    expect(codeOf(payload)).toBe('bad-version');
  });

  it('rejects an unknown kind', () => {
    const payload = encodeSample(fieldSample());
    payload.writeUInt8(9, 5);
    expect(codeOf(payload)).toBe('bad-kind');
  });

  it('rejects every truncation', () => {
    const payload = encodeSample(fieldSample());
    const decodedLengths: number[] = [];
    for (let length = 0; length < payload.length; length += 1) {
      if (codeOf(payload.subarray(0, length)) === 'decoded') decodedLengths.push(length);
    }
    expect(decodedLengths).toEqual([]);
  });

  it('rejects trailing bytes', () => {
    expect(codeOf(Buffer.concat([encodeSample(fieldSample()), Buffer.from([0])]))).toBe('out-of-range');
  });

  it('rejects a length over the limit', () => {
    const payload = encodeSample(fieldSample());
    const lengthsAt = 6 + 1 + 7 + 16 + 8;
    payload.writeUInt32BE(0xffffffff, lengthsAt + 4);
    expect(codeOf(payload)).toBe('out-of-range');
  });

  it('rejects input bytes that do not match the hash', () => {
    const sample = fieldSample();
    const input = Buffer.from(sample.input);
    input[0] = (input[0] ?? 0) ^ 0xff;
    expect(codeOf(encodeSample({ ...sample, input }))).toBe('hash-mismatch');
  });

  it('rejects image bytes that do not match the hash', () => {
    const sample = fieldSample();
    expect(codeOf(encodeSample({ ...sample, image: Buffer.from('other image') }))).toBe('hash-mismatch');
  });

  it('rejects a sample id that does not match', () => {
    const sample = fieldSample();
    expect(codeOf(encodeSample({ ...sample, record: { ...sample.record, labels: { steering: 99 } } }))).toBe('hash-mismatch');
  });

  it('rejects record JSON that is not an object', () => {
    const sample = fieldSample();
    const payload = encodeSample(sample);
    const recordAt = 6 + 1 + 7 + 16 + 8 + 16;
    payload.write('[', recordAt, 'utf8');
    expect(codeOf(payload)).toBe('bad-record');
  });

  it('names the robot in errors', () => {
    const payload = encodeSample(fieldSample());
    try {
      decodeFleetMessage(payload.subarray(0, payload.length - 3));
      expect.unreachable();
    } catch (error) {
      expect((error as SampleCodecError).robot).toBe('rover-1');
    }
  });

  it('rejects a chunk index past the count', () => {
    const payloads = encodeSamplePayloads(fieldSample(), 200);
    const chunk = Buffer.from(payloads[0] ?? Buffer.alloc(0));
    const indexAt = 6 + 1 + 7 + 16 + 8;
    chunk.writeUInt16BE(payloads.length, indexAt);
    expect(codeOf(chunk)).toBe('out-of-range');
  });
});
