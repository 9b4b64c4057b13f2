/**
 * A minimal LZ4 frame encoder for test bags. No LZ4 compressor is installed as a package, and
 * `@foxglove/wasm-lz4` only decompresses. Each block is an LZ4 compressed block that holds one
 * literal-only sequence, which every LZ4 frame decoder must accept. The output is a little larger
 * than the input.
 */

const PRIME32_1 = 0x9e3779b1;
const PRIME32_2 = 0x85ebca77;
const PRIME32_3 = 0xc2b2ae3d;
const PRIME32_4 = 0x27d4eb2f;
const PRIME32_5 = 0x165667b1;

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

function round(accumulator: number, lane: number): number {
  const sum = (accumulator + Math.imul(lane, PRIME32_2)) >>> 0;
  return Math.imul(rotateLeft(sum, 13), PRIME32_1) >>> 0;
}

/** Computes the 32-bit xxHash (XXH32) of `input`, which the LZ4 frame header checksum uses. */
export function xxh32(input: Uint8Array, seed = 0): number {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const length = input.length;
  let offset = 0;
  let hash: number;

  if (length >= 16) {
    let v1 = (seed + PRIME32_1 + PRIME32_2) >>> 0;
    let v2 = (seed + PRIME32_2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - PRIME32_1) >>> 0;
    while (offset + 16 <= length) {
      v1 = round(v1, view.getUint32(offset, true));
      v2 = round(v2, view.getUint32(offset + 4, true));
      v3 = round(v3, view.getUint32(offset + 8, true));
      v4 = round(v4, view.getUint32(offset + 12, true));
      offset += 16;
    }
    hash = (rotateLeft(v1, 1) + rotateLeft(v2, 7) + rotateLeft(v3, 12) + rotateLeft(v4, 18)) >>> 0;
  } else {
    hash = (seed + PRIME32_5) >>> 0;
  }
  hash = (hash + length) >>> 0;

  while (offset + 4 <= length) {
    hash = (hash + Math.imul(view.getUint32(offset, true), PRIME32_3)) >>> 0;
    hash = Math.imul(rotateLeft(hash, 17), PRIME32_4) >>> 0;
    offset += 4;
  }
  while (offset < length) {
    hash = (hash + Math.imul(input[offset]!, PRIME32_5)) >>> 0;
    hash = Math.imul(rotateLeft(hash, 11), PRIME32_1) >>> 0;
    offset += 1;
  }

  hash ^= hash >>> 15;
  hash = Math.imul(hash, PRIME32_2) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, PRIME32_3) >>> 0;
  hash ^= hash >>> 16;
  return hash >>> 0;
}

const FRAME_MAGIC = 0x184d2204;
// FLG: version 01, independent blocks, no checksums, no content size, no dictionary.
const FRAME_FLAGS = 0x60;
// BD: maximum block size 64 KiB.
const FRAME_BLOCK_DESCRIPTOR = 0x40;
// Input bytes per block, chosen so that the literal-length bytes keep a block under 64 KiB.
const BLOCK_INPUT_BYTES = 60_000;

function encodeLiteralBlock(literals: Uint8Array): Uint8Array {
  const lengthBytes: number[] = [];
  let token = literals.length << 4;
  if (literals.length >= 15) {
    token = 0xf0;
    let rest = literals.length - 15;
    while (rest >= 255) {
      lengthBytes.push(255);
      rest -= 255;
    }
    lengthBytes.push(rest);
  }
  const block = new Uint8Array(1 + lengthBytes.length + literals.length);
  block[0] = token;
  block.set(lengthBytes, 1);
  block.set(literals, 1 + lengthBytes.length);
  return block;
}

/** Encodes `input` as one LZ4 frame, the format that ROS 1 `rosbag` uses for lz4 chunks. */
export function encodeLz4Frame(input: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(7);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, FRAME_MAGIC, true);
  header[4] = FRAME_FLAGS;
  header[5] = FRAME_BLOCK_DESCRIPTOR;
  header[6] = (xxh32(header.subarray(4, 6)) >>> 8) & 0xff;
  parts.push(header);

  for (let offset = 0; offset < input.length; offset += BLOCK_INPUT_BYTES) {
    const block = encodeLiteralBlock(input.subarray(offset, offset + BLOCK_INPUT_BYTES));
    const size = new Uint8Array(4);
    new DataView(size.buffer).setUint32(0, block.length, true);
    parts.push(size, block);
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
