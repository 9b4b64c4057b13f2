/**
 * The decodable start of a compressed stream that was cut off. `steps` map compressed input to
 * output: after the first `inputEnd` input bytes, the decoder had produced `outputEnd` bytes.
 * `steps` is null for uncompressed data, where output and input offsets are equal.
 */
export interface DecodedPrefix {
  data: Uint8Array;
  steps: readonly { inputEnd: number; outputEnd: number }[] | null;
}

/**
 * Returns how many input bytes produced the first `outputLength` output bytes: the end of the
 * first compressed block whose output reaches that length.
 */
export function inputLengthFor(prefix: DecodedPrefix, outputLength: number): number {
  if (outputLength === 0 || prefix.steps === null) return outputLength;
  for (const step of prefix.steps) {
    if (step.outputEnd >= outputLength) return step.inputEnd;
  }
  return prefix.steps.at(-1)?.inputEnd ?? 0;
}

/** Largest first allocation; a corrupt header may state any uncompressed size. */
const MAX_INITIAL_CAPACITY = 64 * 1024 * 1024;

/** A growable output buffer for block-by-block decoders. */
export class OutputBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(expectedLength: number) {
    this.bytes = new Uint8Array(Math.min(Math.max(1024, expectedLength), MAX_INITIAL_CAPACITY));
  }

  /** Makes room for `extra` more bytes after `length`. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  append(data: Uint8Array): void {
    this.reserve(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
