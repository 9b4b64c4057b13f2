import { xxh32 } from './lz4-frame.ts';

// A small greedy LZ4 frame compressor for MCAP test files. Unlike `encodeLz4Frame`, it emits real
// matches, and its blocks are linked (a match may reach into the previous block), so tests
// exercise the match and history paths of LZ4 decoders.

const FRAME_MAGIC = 0x184d2204;
// FLG: version 01, linked blocks, no checksums, no content size, no dictionary.
const FRAME_FLAGS = 0x40;
// BD: maximum block size 64 KiB.
const FRAME_BLOCK_DESCRIPTOR = 0x40;
const BLOCK_SIZE = 64 * 1024;
const UNCOMPRESSED_BLOCK_FLAG = 0x80000000;
const MIN_MATCH = 4;
const MAX_DISTANCE = 65_535;
// Block format rules: the last 5 bytes are literals, and the last match starts 12 or more bytes
// before the end of the block.
const LAST_LITERALS = 5;
const MATCH_FIND_LIMIT = 12;
const HASH_BITS = 14;

function pushLength(output: number[], length: number): void {
  let rest = length - 15;
  while (rest >= 255) {
    output.push(255);
    rest -= 255;
  }
  output.push(rest);
}

function pushSequence(output: number[], input: Uint8Array, literalStart: number, literalEnd: number, match?: { distance: number; length: number }): void {
  const literalLength = literalEnd - literalStart;
  const matchCode = match === undefined ? 0 : match.length - MIN_MATCH;
  output.push((Math.min(literalLength, 15) << 4) | Math.min(matchCode, 15));
  if (literalLength >= 15) pushLength(output, literalLength);
  for (let index = literalStart; index < literalEnd; index++) output.push(input[index]!);
  if (match === undefined) return;
  output.push(match.distance & 0xff, match.distance >> 8);
  if (matchCode >= 15) pushLength(output, matchCode);
}

function hash(value: number): number {
  return Math.imul(value, 2654435761) >>> (32 - HASH_BITS);
}

function compressBlock(input: Uint8Array, start: number, end: number, table: Int32Array): number[] {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const output: number[] = [];
  let anchor = start;
  let position = start;
  while (position + MATCH_FIND_LIMIT <= end) {
    const value = view.getUint32(position, true);
    const slot = hash(value);
    const candidate = table[slot]!;
    table[slot] = position;
    if (candidate >= 0 && position - candidate <= MAX_DISTANCE && view.getUint32(candidate, true) === value) {
      let length = MIN_MATCH;
      while (position + length < end - LAST_LITERALS && input[candidate + length] === input[position + length]) length++;
      pushSequence(output, input, anchor, position, { distance: position - candidate, length });
      position += length;
      anchor = position;
    } else {
      position++;
    }
  }
  pushSequence(output, input, anchor, end);
  return output;
}

/** Compresses `input` into one LZ4 frame with linked 64 KiB blocks. */
export function compressLz4Frame(input: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(7);
  new DataView(header.buffer).setUint32(0, FRAME_MAGIC, true);
  header[4] = FRAME_FLAGS;
  header[5] = FRAME_BLOCK_DESCRIPTOR;
  header[6] = (xxh32(header.subarray(4, 6)) >>> 8) & 0xff;
  parts.push(header);

  const table = new Int32Array(1 << HASH_BITS).fill(-1);
  for (let start = 0; start < input.length; start += BLOCK_SIZE) {
    const end = Math.min(start + BLOCK_SIZE, input.length);
    const compressed = compressBlock(input, start, end, table);
    const useCompressed = compressed.length < end - start;
    const size = new Uint8Array(4);
    const sizeWord = useCompressed ? compressed.length : (end - start) | UNCOMPRESSED_BLOCK_FLAG;
    new DataView(size.buffer).setUint32(0, sizeWord >>> 0, true);
    parts.push(size, useCompressed ? Uint8Array.from(compressed) : input.slice(start, end));
  }
  parts.push(new Uint8Array(4));

  const output = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let position = 0;
  for (const part of parts) {
    output.set(part, position);
    position += part.length;
  }
  return output;
}
