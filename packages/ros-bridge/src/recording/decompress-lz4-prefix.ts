import { OutputBuffer, type DecodedPrefix } from './decoded-prefix.ts';

// Layouts from the LZ4 frame format and LZ4 block format descriptions (github.com/lz4/lz4, doc/).
// @foxglove/wasm-lz4 only decompresses whole frames of known size, so the start of a frame that
// was cut off is decoded here, one block at a time.
const LZ4_FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const UNCOMPRESSED_BLOCK_FLAG = 0x80000000;
/** Maximum block sizes for the block-size ids 4 to 7 of the BD byte. */
const BLOCK_MAX_SIZES: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
/** A match copies at least 4 bytes, so a 4-bit match length field stores the length minus 4. */
const MIN_MATCH = 4;

/**
 * Decodes one LZ4 block from `source[start, end)` into `output` after its current length.
 * Matches may reach back into earlier output of the same frame (`frameStart` onward), which is
 * how linked blocks work. Returns false when the block is invalid.
 */
function decodeBlock(source: Uint8Array, start: number, end: number, output: OutputBuffer, frameStart: number): boolean {
  const out = output.bytes;
  let input = start;
  let position = output.length;
  while (input < end) {
    const token = source[input++]!;
    let literalLength = token >>> 4;
    if (literalLength === 15) {
      let extra = 255;
      while (extra === 255) {
        if (input >= end) return false;
        extra = source[input++]!;
        literalLength += extra;
      }
    }
    if (input + literalLength > end || position + literalLength > out.length) return false;
    out.set(source.subarray(input, input + literalLength), position);
    input += literalLength;
    position += literalLength;
    // The last sequence of a block has literals only.
    if (input === end) break;

    if (input + 2 > end) return false;
    const distance = source[input]! | (source[input + 1]! << 8);
    input += 2;
    let matchLength = (token & 15) + MIN_MATCH;
    if ((token & 15) === 15) {
      let extra = 255;
      while (extra === 255) {
        if (input >= end) return false;
        extra = source[input++]!;
        matchLength += extra;
      }
    }
    let from = position - distance;
    if (distance === 0 || from < frameStart || position + matchLength > out.length) return false;
    // Byte by byte, because a match may overlap the bytes it produces.
    for (let copied = 0; copied < matchLength; copied++) out[position++] = out[from++]!;
  }
  output.length = position;
  return true;
}

/**
 * Decompresses the complete blocks at the start of an LZ4 frame stream that was cut off. Block
 * and content checksums are skipped, not checked. Stops at the first incomplete or invalid block.
 */
export function decompressLz4Prefix(compressed: Uint8Array, expectedSize: number): DecodedPrefix {
  const view = new DataView(compressed.buffer, compressed.byteOffset, compressed.byteLength);
  const output = new OutputBuffer(expectedSize);
  const steps: { inputEnd: number; outputEnd: number }[] = [];
  const result = (): DecodedPrefix => ({ data: output.result(), steps });
  let offset = 0;

  while (offset + 4 <= compressed.length) {
    const magic = view.getUint32(offset, true);
    if (((magic & SKIPPABLE_MAGIC_MASK) >>> 0) === SKIPPABLE_MAGIC) {
      if (offset + 8 > compressed.length) break;
      offset += 8 + view.getUint32(offset + 4, true);
      if (offset > compressed.length) break;
      steps.push({ inputEnd: offset, outputEnd: output.length });
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC || offset + 7 > compressed.length) break;

    const flags = compressed[offset + 4]!;
    const blockMaxSize = BLOCK_MAX_SIZES[(compressed[offset + 5]! >> 4) & 7];
    if (flags >> 6 !== 1 || blockMaxSize === undefined) break;
    const hasBlockChecksums = (flags >> 4) & 1;
    const hasContentSize = (flags >> 3) & 1;
    const hasContentChecksum = (flags >> 2) & 1;
    const hasDictionaryId = flags & 1;
    let position = offset + 6 + (hasContentSize ? 8 : 0) + (hasDictionaryId ? 4 : 0) + 1;
    const frameStart = output.length;

    for (;;) {
      if (position + 4 > compressed.length) return result();
      const blockWord = view.getUint32(position, true);
      position += 4;
      if (blockWord === 0) {
        if (hasContentChecksum) position += 4;
        if (position > compressed.length) return result();
        steps.push({ inputEnd: position, outputEnd: output.length });
        break;
      }
      const size = (blockWord & ~UNCOMPRESSED_BLOCK_FLAG) >>> 0;
      const blockEnd = position + size + (hasBlockChecksums ? 4 : 0);
      if (size > blockMaxSize || blockEnd > compressed.length) return result();
      output.reserve(blockMaxSize);
      if ((blockWord & UNCOMPRESSED_BLOCK_FLAG) !== 0) {
        output.append(compressed.subarray(position, position + size));
      } else if (!decodeBlock(compressed, position, position + size, output, frameStart)) {
        return result();
      }
      position = blockEnd;
      steps.push({ inputEnd: position, outputEnd: output.length });
    }
    offset = position;
  }
  return result();
}
