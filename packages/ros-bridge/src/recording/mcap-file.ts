import { open, type FileHandle } from 'node:fs/promises';
import type { IReadable } from '@mcap/core';

/** Bytes read ahead by `bytesAt`, so that a walk over small records needs few system calls. */
const WINDOW_LENGTH = 4 * 1024 * 1024;

/**
 * A read-only MCAP file with random access by byte range. Every read returns a new buffer, so
 * subarrays of earlier reads stay valid after later reads.
 */
export class McapFile {
  readonly path: string;
  readonly size: number;
  readonly #handle: FileHandle;
  #windowStart = 0;
  #window: Uint8Array = new Uint8Array(0);

  private constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.#handle = handle;
    this.size = size;
  }

  static async open(path: string): Promise<McapFile> {
    const handle = await open(path, 'r');
    try {
      const stats = await handle.stat();
      return new McapFile(path, handle, stats.size);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Reads `length` bytes at `offset`, or fewer where the file ends first. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const available = Math.max(0, Math.min(length, this.size - offset));
    const buffer = new Uint8Array(available);
    let filled = 0;
    while (filled < available) {
      const { bytesRead } = await this.#handle.read(buffer, filled, available - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === available ? buffer : buffer.subarray(0, filled);
  }

  /**
   * Returns `length` bytes at `offset` (fewer where the file ends first) from a read-ahead window.
   * The result is a view into the window, which is never overwritten.
   */
  async bytesAt(offset: number, length: number): Promise<Uint8Array> {
    const windowEnd = this.#windowStart + this.#window.length;
    const requestedEnd = Math.min(offset + length, this.size);
    if (offset < this.#windowStart || requestedEnd > windowEnd) {
      this.#window = await this.read(offset, Math.max(length, WINDOW_LENGTH));
      this.#windowStart = offset;
    }
    const start = offset - this.#windowStart;
    return this.#window.subarray(start, start + Math.max(0, requestedEnd - offset));
  }

  /** Returns the file as an `IReadable` for `McapIndexedReader`. */
  readable(): IReadable {
    return {
      size: async () => BigInt(this.size),
      read: async (offset: bigint, length: bigint) => this.read(Number(offset), Number(length)),
    };
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}
