import { MCAP_MAGIC, Opcode } from '@mcap/core';
import type { McapChannelRegistry, OrphanMessage } from './mcap-channel-registry.ts';
import type { RawMessage } from './recording-reader.ts';

// Record layouts follow the MCAP specification (https://mcap.dev/spec). Every record is an opcode
// byte, a u64 content length and the content; integers are little-endian.

/** Opcode byte plus the u64 content length that precede every record's content. */
export const RECORD_PREFIX_LENGTH = 9;
export const MAGIC_LENGTH = MCAP_MAGIC.length;
/** Chunk fields before the compression string: start and end time, uncompressed size, CRC, string length. */
const CHUNK_FIXED_LENGTH = 8 + 8 + 8 + 4 + 4;
/** Message fields before the data: channel id, sequence, log time, publish time. */
const MESSAGE_FIXED_LENGTH = 2 + 4 + 8 + 8;
/** Compression names are short ASCII words such as `zstd`; a longer field means a corrupt header. */
const MAX_COMPRESSION_NAME_LENGTH = 32;
const TWO_TO_THE_32 = 4294967296;

const utf8 = new TextDecoder('utf-8');

const RECORD_NAMES: Record<number, string> = {
  [Opcode.HEADER]: 'Header',
  [Opcode.FOOTER]: 'Footer',
  [Opcode.SCHEMA]: 'Schema',
  [Opcode.CHANNEL]: 'Channel',
  [Opcode.MESSAGE]: 'Message',
  [Opcode.CHUNK]: 'Chunk',
  [Opcode.MESSAGE_INDEX]: 'Message Index',
  [Opcode.CHUNK_INDEX]: 'Chunk Index',
  [Opcode.ATTACHMENT]: 'Attachment',
  [Opcode.ATTACHMENT_INDEX]: 'Attachment Index',
  [Opcode.STATISTICS]: 'Statistics',
  [Opcode.METADATA]: 'Metadata',
  [Opcode.METADATA_INDEX]: 'Metadata Index',
  [Opcode.SUMMARY_OFFSET]: 'Summary Offset',
  [Opcode.DATA_END]: 'Data End',
};

export function recordName(opcode: number): string {
  return RECORD_NAMES[opcode] ?? `opcode 0x${opcode.toString(16).padStart(2, '0')}`;
}

/** True for opcodes the specification defines, and for the user range 0x80 to 0xff. */
export function isValidOpcode(opcode: number): boolean {
  return (opcode >= Opcode.MIN && opcode <= Opcode.MAX) || opcode >= 0x80;
}

export function startsWithMagic(bytes: Uint8Array): boolean {
  if (bytes.length < MAGIC_LENGTH) return false;
  return MCAP_MAGIC.every((value, index) => bytes[index] === value);
}

/** True when `bytes` is shorter than the magic and equal to its start. */
export function isMagicPrefix(bytes: Uint8Array): boolean {
  return bytes.length < MAGIC_LENGTH && [...bytes].every((value, index) => MCAP_MAGIC[index] === value);
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads a little-endian u64 as a number, which is exact below 2^53 bytes. */
export function readLength(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_TO_THE_32;
}

/** The fields of a Chunk record that come before its records. */
export interface ChunkHeader {
  messageStartTime: bigint;
  messageEndTime: bigint;
  uncompressedSize: number;
  /** CRC-32 of the uncompressed records, or 0 when the writer did not compute one. */
  uncompressedCrc: number;
  compression: string;
  /** Offset of the (compressed) records from the start of the record, prefix included. */
  recordsOffset: number;
  recordsLength: number;
}

/**
 * Parses the fields before a chunk's records. `record` starts at the opcode byte and may end
 * early (a truncated file). Returns undefined when it ends before the records start or when the
 * fields contradict `contentLength`.
 */
export function parseChunkHeader(record: Uint8Array, contentLength: number): ChunkHeader | undefined {
  const view = viewOf(record);
  const fixedEnd = RECORD_PREFIX_LENGTH + CHUNK_FIXED_LENGTH;
  if (record.length < fixedEnd || contentLength < CHUNK_FIXED_LENGTH + 8) return undefined;
  const compressionLength = view.getUint32(fixedEnd - 4, true);
  if (compressionLength > MAX_COMPRESSION_NAME_LENGTH) return undefined;
  const recordsOffset = fixedEnd + compressionLength + 8;
  if (record.length < recordsOffset) return undefined;
  const recordsLength = readLength(view, recordsOffset - 8);
  if (recordsOffset + recordsLength > RECORD_PREFIX_LENGTH + contentLength) return undefined;
  const compressionBytes = record.subarray(fixedEnd, fixedEnd + compressionLength);
  if (!compressionBytes.every((byte) => byte >= 0x21 && byte <= 0x7e)) return undefined;
  const messageStartTime = view.getBigUint64(RECORD_PREFIX_LENGTH, true);
  const messageEndTime = view.getBigUint64(RECORD_PREFIX_LENGTH + 8, true);
  if (messageStartTime > messageEndTime) return undefined;
  return {
    messageStartTime,
    messageEndTime,
    uncompressedSize: readLength(view, RECORD_PREFIX_LENGTH + 16),
    uncompressedCrc: view.getUint32(RECORD_PREFIX_LENGTH + 24, true),
    compression: utf8.decode(compressionBytes),
    recordsOffset,
    recordsLength,
  };
}

/** Returns the number of entries in a Message Index record, or 0 when its fields are invalid. */
export function messageIndexEntryCount(record: Uint8Array): number {
  const contentStart = RECORD_PREFIX_LENGTH;
  if (record.length < contentStart + 6) return 0;
  const byteLength = viewOf(record).getUint32(contentStart + 2, true);
  if (contentStart + 6 + byteLength > record.length) return 0;
  return Math.floor(byteLength / 16);
}

/** Result of `parseChunkRecords`: the messages and where parsing stopped. */
export interface ParsedRecords {
  messages: RawMessage[];
  /** True when the messages are already in log-time order. */
  sorted: boolean;
  /** Offset just past the last complete, valid record. */
  end: number;
  /** Offset of a complete record whose fields are invalid, or null when there is none. */
  invalidAt: number | null;
  orphans: OrphanMessage[];
}

/**
 * Parses the records inside a chunk (or any run of records) up to the first incomplete or invalid
 * one. Schema and Channel records go into `registry`; message data are views into `records`.
 */
export function parseChunkRecords(
  records: Uint8Array,
  registry: McapChannelRegistry,
  file: string,
): ParsedRecords {
  const view = viewOf(records);
  const length = records.length;
  const messages: RawMessage[] = [];
  const orphans: OrphanMessage[] = [];
  let sorted = true;
  let previousLogTime = 0n;
  let offset = 0;
  let invalidAt: number | null = null;

  while (offset + RECORD_PREFIX_LENGTH <= length) {
    const opcode = records[offset]!;
    const contentStart = offset + RECORD_PREFIX_LENGTH;
    const recordEnd = contentStart + readLength(view, offset + 1);
    if (recordEnd > length) break;

    if (opcode === Opcode.MESSAGE) {
      if (recordEnd - contentStart < MESSAGE_FIXED_LENGTH) {
        invalidAt = offset;
        break;
      }
      const channelId = view.getUint16(contentStart, true);
      const logTime = view.getBigUint64(contentStart + 6, true);
      const channel = registry.channel(channelId);
      if (channel === undefined) {
        orphans.push({ channelId, logTime, recordLength: recordEnd - offset });
      } else {
        messages.push({
          channel,
          logTime,
          publishTime: view.getBigUint64(contentStart + 14, true),
          data: records.subarray(contentStart + MESSAGE_FIXED_LENGTH, recordEnd),
          file,
        });
        if (logTime < previousLogTime) sorted = false;
        previousLogTime = logTime;
      }
    } else if (opcode === Opcode.SCHEMA || opcode === Opcode.CHANNEL) {
      const content = records.subarray(contentStart, recordEnd);
      const valid = opcode === Opcode.SCHEMA ? addSchema(content, registry) : addChannel(content, registry);
      if (!valid) {
        invalidAt = offset;
        break;
      }
    } else if (!isValidOpcode(opcode)) {
      invalidAt = offset;
      break;
    }
    offset = recordEnd;
  }
  return { messages, sorted, end: offset, invalidAt, orphans };
}

/** Parses the content of a Schema or Channel record outside a chunk into `registry`. */
export function addDefinitionRecord(opcode: number, content: Uint8Array, registry: McapChannelRegistry): boolean {
  return opcode === Opcode.SCHEMA ? addSchema(content, registry) : addChannel(content, registry);
}

/** Sorts messages by log time; the sort is stable, so equal times keep their file order. */
export function sortByLogTime(messages: RawMessage[]): void {
  messages.sort(compareLogTimes);
}

function compareLogTimes(a: RawMessage, b: RawMessage): number {
  if (a.logTime < b.logTime) return -1;
  if (a.logTime > b.logTime) return 1;
  return 0;
}

/** Sequential reader of length-prefixed fields; every read returns undefined past the end. */
class FieldReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = viewOf(bytes);
  }

  uint16(): number | undefined {
    if (this.#offset + 2 > this.#bytes.length) return undefined;
    const value = this.#view.getUint16(this.#offset, true);
    this.#offset += 2;
    return value;
  }

  bytes(): Uint8Array | undefined {
    if (this.#offset + 4 > this.#bytes.length) return undefined;
    const length = this.#view.getUint32(this.#offset, true);
    const start = this.#offset + 4;
    if (start + length > this.#bytes.length) return undefined;
    this.#offset = start + length;
    return this.#bytes.subarray(start, start + length);
  }

  string(): string | undefined {
    const bytes = this.bytes();
    return bytes === undefined ? undefined : utf8.decode(bytes);
  }
}

function addSchema(content: Uint8Array, registry: McapChannelRegistry): boolean {
  const reader = new FieldReader(content);
  const id = reader.uint16();
  const name = reader.string();
  const encoding = reader.string();
  const data = reader.bytes();
  if (id === undefined || name === undefined || encoding === undefined || data === undefined) return false;
  registry.addSchema(id, name, encoding, data);
  return true;
}

function addChannel(content: Uint8Array, registry: McapChannelRegistry): boolean {
  const reader = new FieldReader(content);
  const id = reader.uint16();
  const schemaId = reader.uint16();
  const topic = reader.string();
  const messageEncoding = reader.string();
  if (id === undefined || schemaId === undefined || topic === undefined || messageEncoding === undefined) {
    return false;
  }
  registry.addChannel(id, schemaId, topic, messageEncoding);
  return true;
}
