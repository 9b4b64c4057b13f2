import { Decompress } from 'fzstd';
import { OutputBuffer, type DecodedPrefix } from './decoded-prefix.ts';

// Frame layout from RFC 8878, section 3.1: a 4-byte magic number, a frame header whose length
// follows from its first byte, then blocks with 3-byte headers, then an optional 4-byte checksum.
const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const DICTIONARY_ID_LENGTHS = [0, 1, 2, 4] as const;
const CONTENT_SIZE_LENGTHS = [0, 2, 4, 8] as const;
const BLOCK_TYPE_RLE = 1;
const BLOCK_TYPE_RESERVED = 3;

/**
 * Lists the offsets in `data` where a complete zstd block (or a frame's trailing checksum, or a
 * skippable frame) ends, up to the first incomplete or invalid one.
 */
export function zstdBlockEnds(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const ends: number[] = [];
  let offset = 0;
  while (offset + 4 <= data.length) {
    const magic = view.getUint32(offset, true);
    if (((magic & SKIPPABLE_MAGIC_MASK) >>> 0) === SKIPPABLE_MAGIC) {
      if (offset + 8 > data.length) break;
      offset += 8 + view.getUint32(offset + 4, true);
      if (offset > data.length) break;
      ends.push(offset);
      continue;
    }
    if (magic !== ZSTD_MAGIC || offset + 5 > data.length) break;

    const descriptor = data[offset + 4]!;
    const contentSizeFlag = descriptor >> 6;
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const contentSizeLength = contentSizeFlag === 0 ? singleSegment : CONTENT_SIZE_LENGTHS[contentSizeFlag]!;
    let position =
      offset + 5 + (singleSegment ? 0 : 1) + DICTIONARY_ID_LENGTHS[descriptor & 3]! + contentSizeLength;

    let lastBlock = false;
    while (!lastBlock) {
      if (position + 3 > data.length) return ends;
      const blockHeader = data[position]! | (data[position + 1]! << 8) | (data[position + 2]! << 16);
      lastBlock = (blockHeader & 1) === 1;
      const blockType = (blockHeader >> 1) & 3;
      if (blockType === BLOCK_TYPE_RESERVED) return ends;
      position += 3 + (blockType === BLOCK_TYPE_RLE ? 1 : blockHeader >>> 3);
      if (position > data.length) return ends;
      ends.push(position);
    }
    if (hasChecksum) {
      position += 4;
      if (position > data.length) return ends;
      ends.push(position);
    }
    offset = position;
  }
  return ends;
}

/**
 * Decompresses the complete blocks at the start of a zstd stream that was cut off, one block at a
 * time with fzstd's streaming decoder. Stops at the first block that fails to decode.
 */
export function decompressZstdPrefix(compressed: Uint8Array, expectedSize: number): DecodedPrefix {
  const output = new OutputBuffer(expectedSize);
  const steps: { inputEnd: number; outputEnd: number }[] = [];
  const decompressor = new Decompress((data) => output.append(data));
  let pushed = 0;
  for (const end of zstdBlockEnds(compressed)) {
    try {
      decompressor.push(compressed.subarray(pushed, end));
    } catch {
      break;
    }
    pushed = end;
    steps.push({ inputEnd: end, outputEnd: output.length });
  }
  // A block that failed may have produced part of its output; keep only whole blocks.
  const decodedLength = steps.at(-1)?.outputEnd ?? 0;
  return { data: output.result().subarray(0, decodedLength), steps };
}
