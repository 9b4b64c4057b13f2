import { randomBytes } from 'node:crypto';
import { computeSampleId, sha256Hex, type SampleRecord } from '@fieldloop/contracts';

/**
 * Binary wire format of field samples, schema version 1. All integers are big-endian.
 *
 * Header of every message:  magic `FLFS` (4 bytes), schema version (u8), kind (u8: 1 sample,
 * 2 chunk), robot id length (u8) and robot id (ASCII), boot id (16 bytes), sequence (u64).
 *
 * Sample body: record JSON length (u32), image length (u32), input length (u32), extra JSON
 * length (u32, 0 when absent), then the four parts in that order.
 *
 * Chunk body: chunk index (u16), chunk count (u16), length of the whole sample message (u32),
 * then this chunk's bytes. The chunks of one sample message concatenate to the message.
 */
export const FLEET_SCHEMA_VERSION = 1;

const MAGIC = Buffer.from('FLFS', 'ascii');
const KIND_SAMPLE = 1;
const KIND_CHUNK = 2;
const BOOT_ID_BYTES = 16;
const ROBOT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Upper bounds that decoding enforces, so a corrupt length cannot make the base allocate gigabytes. */
export const FLEET_LIMITS = Object.freeze({
  recordJsonBytes: 64 * 1024,
  extraJsonBytes: 1024 * 1024,
  blobBytes: 64 * 1024 * 1024,
  chunkCount: 65_535,
});

/** Predictions and trigger reasons that a robot may attach to a capture. */
export interface FieldSampleExtra {
  predictions?: Record<string, unknown>;
  triggers?: string[];
  [key: string]: unknown;
}

/** One capture as a robot sends it. */
export interface FieldSample {
  robot: string;
  /** 32 lowercase hex digits, random per process start of the robot-side program. */
  bootId: string;
  /** Counts up from 0 within one boot. */
  sequence: number;
  record: SampleRecord;
  image: Uint8Array;
  input: Uint8Array;
  extra: FieldSampleExtra | null;
}

/** The part of a chunked sample message that one MQTT message carries. */
export interface SampleChunk {
  robot: string;
  bootId: string;
  sequence: number;
  index: number;
  count: number;
  /** Length in bytes of the whole sample message. */
  totalBytes: number;
  data: Uint8Array;
}

export type DecodedFleetMessage = { kind: 'sample'; sample: FieldSample } | { kind: 'chunk'; chunk: SampleChunk };

export type SampleCodecErrorCode = 'bad-magic' | 'bad-version' | 'bad-kind' | 'truncated' | 'out-of-range' | 'bad-record' | 'hash-mismatch';

/** Thrown for a message that is not a valid version-1 fleet message; `robot` is set once the header was read. */
export class SampleCodecError extends Error {
  readonly code: SampleCodecErrorCode;
  readonly robot: string | null;

  constructor(code: SampleCodecErrorCode, message: string, robot: string | null = null) {
    super(message);
    this.name = 'SampleCodecError';
    this.code = code;
    this.robot = robot;
  }
}

/** Returns a new random boot id. */
export function newBootId(): string {
  return randomBytes(BOOT_ID_BYTES).toString('hex');
}

interface Header {
  robot: string;
  bootId: string;
  sequence: number;
}

function headerBytes(kind: number, header: Header): Buffer {
  if (!ROBOT_ID_PATTERN.test(header.robot)) {
    throw new RangeError(`invalid robot id ${JSON.stringify(header.robot)}: use 1 to 64 letters, digits, - or _`);
  }
  if (!/^[0-9a-f]{32}$/.test(header.bootId)) {
    throw new RangeError(`invalid boot id ${JSON.stringify(header.bootId)}: expected 32 lowercase hex digits`);
  }
  if (!Number.isSafeInteger(header.sequence) || header.sequence < 0) {
    throw new RangeError(`invalid sequence number ${header.sequence}: expected a non-negative safe integer`);
  }
  const robot = Buffer.from(header.robot, 'ascii');
  const out = Buffer.alloc(6 + 1 + robot.length + BOOT_ID_BYTES + 8);
  MAGIC.copy(out, 0);
  out.writeUInt8(FLEET_SCHEMA_VERSION, 4);
  out.writeUInt8(kind, 5);
  out.writeUInt8(robot.length, 6);
  robot.copy(out, 7);
  Buffer.from(header.bootId, 'hex').copy(out, 7 + robot.length);
  out.writeBigUInt64BE(BigInt(header.sequence), 7 + robot.length + BOOT_ID_BYTES);
  return out;
}

/** Encodes a sample as one message, before any chunking. */
export function encodeSample(sample: FieldSample): Buffer {
  const record = Buffer.from(JSON.stringify(sample.record), 'utf8');
  const extra = sample.extra === null ? Buffer.alloc(0) : Buffer.from(JSON.stringify(sample.extra), 'utf8');
  if (record.length > FLEET_LIMITS.recordJsonBytes) {
    throw new RangeError(`sample ${sample.record.id}: record JSON is ${record.length} bytes, over the limit of ${FLEET_LIMITS.recordJsonBytes}`);
  }
  if (extra.length > FLEET_LIMITS.extraJsonBytes) {
    throw new RangeError(`sample ${sample.record.id}: extra JSON is ${extra.length} bytes, over the limit of ${FLEET_LIMITS.extraJsonBytes}`);
  }
  for (const [name, blob] of [['image', sample.image], ['input', sample.input]] as const) {
    if (blob.length > FLEET_LIMITS.blobBytes) {
      throw new RangeError(`sample ${sample.record.id}: ${name} is ${blob.length} bytes, over the limit of ${FLEET_LIMITS.blobBytes}`);
    }
  }
  const lengths = Buffer.alloc(16);
  lengths.writeUInt32BE(record.length, 0);
  lengths.writeUInt32BE(sample.image.length, 4);
  lengths.writeUInt32BE(sample.input.length, 8);
  lengths.writeUInt32BE(extra.length, 12);
  return Buffer.concat([headerBytes(KIND_SAMPLE, sample), lengths, record, sample.image, sample.input, extra]);
}

/**
 * Encodes a sample as MQTT payloads of at most `maxPayloadBytes` each: one sample message when it
 * fits, otherwise chunk messages that carry slices of the sample message.
 */
export function encodeSamplePayloads(sample: FieldSample, maxPayloadBytes: number): Buffer[] {
  const whole = encodeSample(sample);
  if (whole.length <= maxPayloadBytes) return [whole];
  const overhead = headerBytes(KIND_CHUNK, sample).length + 8;
  const room = maxPayloadBytes - overhead;
  if (room < 64) {
    throw new RangeError(`max payload ${maxPayloadBytes} bytes leaves ${room} bytes per chunk after the header; use at least ${overhead + 64}`);
  }
  const count = Math.ceil(whole.length / room);
  if (count > FLEET_LIMITS.chunkCount) {
    throw new RangeError(`sample ${sample.record.id} needs ${count} chunks of ${room} bytes, over the limit of ${FLEET_LIMITS.chunkCount}; raise the max payload size`);
  }
  const payloads: Buffer[] = [];
  for (let index = 0; index < count; index += 1) {
    const chunkHeader = Buffer.alloc(8);
    chunkHeader.writeUInt16BE(index, 0);
    chunkHeader.writeUInt16BE(count, 2);
    chunkHeader.writeUInt32BE(whole.length, 4);
    payloads.push(Buffer.concat([headerBytes(KIND_CHUNK, sample), chunkHeader, whole.subarray(index * room, (index + 1) * room)]));
  }
  return payloads;
}

class Cursor {
  offset = 0;
  robot: string | null = null;

  constructor(private readonly bytes: Buffer) {}

  take(length: number, field: string): Buffer {
    if (this.offset + length > this.bytes.length) {
      throw new SampleCodecError(
        'truncated',
        `fleet message is truncated: ${field} needs ${length} bytes at offset ${this.offset}, but the message is ${this.bytes.length} bytes long`,
        this.robot,
      );
    }
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(field: string): number {
    return this.take(1, field).readUInt8(0);
  }

  u16(field: string): number {
    return this.take(2, field).readUInt16BE(0);
  }

  u32(field: string): number {
    return this.take(4, field).readUInt32BE(0);
  }

  rest(): Buffer {
    return this.take(this.bytes.length - this.offset, 'rest');
  }
}

function readHeader(cursor: Cursor): Header & { kind: number } {
  const magic = cursor.take(4, 'magic');
  if (!magic.equals(MAGIC)) {
    throw new SampleCodecError('bad-magic', `not a fleet message: expected magic "FLFS", got bytes ${magic.toString('hex')}`);
  }
  const version = cursor.u8('schema version');
  if (version !== FLEET_SCHEMA_VERSION) {
    throw new SampleCodecError(
      'bad-version',
      `fleet message has schema version ${version}, but this fieldloop reads version ${FLEET_SCHEMA_VERSION}; run the same fieldloop version on robots and base`,
    );
  }
  const kind = cursor.u8('kind');
  if (kind !== KIND_SAMPLE && kind !== KIND_CHUNK) throw new SampleCodecError('bad-kind', `fleet message has unknown kind ${kind}; expected 1 (sample) or 2 (chunk)`);
  const robotLength = cursor.u8('robot id length');
  const robot = cursor.take(robotLength, 'robot id').toString('latin1');
  if (!ROBOT_ID_PATTERN.test(robot)) throw new SampleCodecError('out-of-range', `fleet message has invalid robot id ${JSON.stringify(robot)}`);
  cursor.robot = robot;
  const bootId = cursor.take(BOOT_ID_BYTES, 'boot id').toString('hex');
  const sequence = cursor.take(8, 'sequence').readBigUInt64BE(0);
  if (sequence > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SampleCodecError('out-of-range', `fleet message from ${robot} has sequence ${sequence}, over 2^53 - 1`, robot);
  }
  return { kind, robot, bootId, sequence: Number(sequence) };
}

function checkLength(cursor: Cursor, value: number, max: number, field: string): number {
  if (value > max) throw new SampleCodecError('out-of-range', `fleet message declares ${field} of ${value} bytes, over the limit of ${max}`, cursor.robot);
  return value;
}

function parseJson(bytes: Buffer, field: string, robot: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new SampleCodecError('bad-record', `fleet message from ${robot}: ${field} is not valid JSON: ${(error as Error).message}`, robot);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the record's shape and, with `checkHashes`, that its hashes and id match the bytes that came with it. */
function checkRecord(value: unknown, image: Buffer, input: Buffer, robot: string, checkHashes: boolean): SampleRecord {
  const fail = (code: SampleCodecErrorCode, detail: string): never => {
    throw new SampleCodecError(code, `fleet message from ${robot}: ${detail}`, robot);
  };
  if (!isObject(value)) return fail('bad-record', 'record is not a JSON object');
  for (const field of ['id', 'imageSha256', 'inputSha256'] as const) {
    if (typeof value[field] !== 'string' || !/^[0-9a-f]{64}$/.test(value[field])) fail('bad-record', `record.${field} is not 64 lowercase hex digits`);
  }
  for (const field of ['width', 'height'] as const) {
    const size = value[field];
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) fail('bad-record', `record.${field} is not a positive integer`);
  }
  if (!isObject(value.labels)) fail('bad-record', 'record.labels is not an object');
  if (!Array.isArray(value.tags) || !value.tags.every((tag) => typeof tag === 'string')) fail('bad-record', 'record.tags is not an array of strings');
  if (!isObject(value.source)) fail('bad-record', 'record.source is not an object');
  if (typeof value.splitKey !== 'string') fail('bad-record', 'record.splitKey is not a string');
  const record = value as unknown as SampleRecord;
  if (input.length !== record.width * record.height * 3) {
    fail('bad-record', `input is ${input.length} bytes, but ${record.width} x ${record.height} x 3 is ${record.width * record.height * 3}`);
  }
  if (!checkHashes) return record;
  if (sha256Hex(image) !== record.imageSha256) fail('hash-mismatch', `image bytes do not match record.imageSha256 of sample ${record.id}`);
  if (sha256Hex(input) !== record.inputSha256) fail('hash-mismatch', `input bytes do not match record.inputSha256 of sample ${record.id}`);
  if (computeSampleId(record.inputSha256, record.labels, record.tags) !== record.id) {
    fail('hash-mismatch', `record.id ${record.id} is not the id of its input, labels and tags`);
  }
  return record;
}

function decodeChunkBody(cursor: Cursor, header: Header): SampleChunk {
  const { robot, bootId, sequence } = header;
  const index = cursor.u16('chunk index');
  const count = cursor.u16('chunk count');
  const totalBytes = cursor.u32('sample length');
  if (count < 2 || index >= count) {
    throw new SampleCodecError('out-of-range', `fleet chunk from ${robot} has index ${index} of ${count}; expected 2 or more chunks and index below count`, robot);
  }
  const maxSampleBytes = FLEET_LIMITS.blobBytes * 2 + FLEET_LIMITS.recordJsonBytes + FLEET_LIMITS.extraJsonBytes + 256;
  checkLength(cursor, totalBytes, maxSampleBytes, 'a sample length');

  const data = cursor.rest();
  if (data.length === 0 || data.length > totalBytes) {
    throw new SampleCodecError('out-of-range', `fleet chunk from ${robot} carries ${data.length} bytes of a ${totalBytes}-byte sample`, robot);
  }
  return { robot, bootId, sequence, index, count, totalBytes, data };
}

function decodeSampleBody(cursor: Cursor, header: Header, totalLength: number, checkHashes: boolean): FieldSample {
  const { robot, bootId, sequence } = header;
  const recordLength = checkLength(cursor, cursor.u32('record length'), FLEET_LIMITS.recordJsonBytes, 'a record');
  const imageLength = checkLength(cursor, cursor.u32('image length'), FLEET_LIMITS.blobBytes, 'an image');
  const inputLength = checkLength(cursor, cursor.u32('input length'), FLEET_LIMITS.blobBytes, 'an input');
  const extraLength = checkLength(cursor, cursor.u32('extra length'), FLEET_LIMITS.extraJsonBytes, 'extra JSON');

  const recordBytes = cursor.take(recordLength, 'record');
  const image = cursor.take(imageLength, 'image');
  const input = cursor.take(inputLength, 'input');
  const extraBytes = cursor.take(extraLength, 'extra');
  if (cursor.offset !== totalLength) {
    throw new SampleCodecError('out-of-range', `fleet message from ${robot} has ${totalLength - cursor.offset} bytes after its last part`, robot);
  }

  const record = checkRecord(parseJson(recordBytes, 'record', robot), image, input, robot, checkHashes);
  let extra: FieldSampleExtra | null = null;
  if (extraLength > 0) {
    const parsed = parseJson(extraBytes, 'extra', robot);
    if (!isObject(parsed)) throw new SampleCodecError('bad-record', `fleet message from ${robot}: extra is not a JSON object`, robot);
    extra = parsed as FieldSampleExtra;
  }
  return { robot, bootId, sequence, record, image, input, extra };
}

export interface DecodeOptions {
  /**
   * Check the image and input sha256 and the sample id against the record; default true. Pass
   * false only for a message that was decoded with the check before, such as one read back from
   * the collector's state.
   */
  checkHashes?: boolean;
}

/** Decodes and checks one fleet message. Throws a SampleCodecError that names the problem. */
export function decodeFleetMessage(payload: Uint8Array, options: DecodeOptions = {}): DecodedFleetMessage {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const cursor = new Cursor(bytes);
  const header = readHeader(cursor);
  if (header.kind === KIND_CHUNK) return { kind: 'chunk', chunk: decodeChunkBody(cursor, header) };
  return { kind: 'sample', sample: decodeSampleBody(cursor, header, bytes.length, options.checkHashes ?? true) };
}
