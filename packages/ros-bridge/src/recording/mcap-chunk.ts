import { crc32 } from 'node:zlib';
import type { DecompressHandlers } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import type { McapChannelRegistry } from './mcap-channel-registry.ts';
import { parseChunkRecords, sortByLogTime, type ChunkHeader, type ParsedRecords } from './mcap-records.ts';
import { decompressLz4Prefix } from './decompress-lz4-prefix.ts';
import { decompressZstdPrefix } from './decompress-zstd-prefix.ts';
import type { DecodedPrefix } from './decoded-prefix.ts';
import { RecordingError, type RawMessage } from './recording-reader.ts';

let decompressHandlers: Promise<DecompressHandlers> | undefined;

/** Loads the bz2, lz4 and zstd WebAssembly decoders of @mcap/support on first use, once per process. */
function loadHandlers(): Promise<DecompressHandlers> {
  decompressHandlers ??= loadDecompressHandlers();
  return decompressHandlers;
}

export type ChunkDecodeResult =
  | { ok: true; messages: RawMessage[]; records: ParsedRecords }
  | { ok: false; problem: string };

/**
 * Decompresses a complete Chunk record, checks its CRC and parses its records. `record` starts at
 * the opcode byte. The messages come back in log-time order.
 */
export async function decodeChunk(
  record: Uint8Array,
  header: ChunkHeader,
  registry: McapChannelRegistry,
  file: string,
): Promise<ChunkDecodeResult> {
  const stored = record.subarray(header.recordsOffset, header.recordsOffset + header.recordsLength);
  let data = stored;
  if (header.compression !== '') {
    let handlers: DecompressHandlers;
    try {
      handlers = await loadHandlers();
    } catch (error) {
      throw new RecordingError(file, `Failed to load the MCAP decompressors of @mcap/support for ${file}: ${errorText(error)}`, {
        cause: error,
      });
    }
    const decompress = handlers[header.compression];
    if (decompress === undefined) {
      return { ok: false, problem: `unsupported compression "${header.compression}"` };
    }
    try {
      data = decompress(stored, BigInt(header.uncompressedSize));
    } catch (error) {
      return { ok: false, problem: `${header.compression} decompression failed: ${errorText(error)}` };
    }
  }
  if (data.length !== header.uncompressedSize) {
    return {
      ok: false,
      problem: `records are ${data.length} bytes uncompressed, but the chunk header states ${header.uncompressedSize}`,
    };
  }
  if (header.uncompressedCrc !== 0) {
    const actual = crc32(data);
    if (actual !== header.uncompressedCrc) {
      return { ok: false, problem: `CRC-32 mismatch: records have ${hex(actual)}, chunk header states ${hex(header.uncompressedCrc)}` };
    }
  }
  const records = parseChunkRecords(data, registry, file);
  if (records.invalidAt !== null || records.end !== data.length) {
    return { ok: false, problem: `invalid record at byte ${records.end} of the uncompressed records` };
  }
  if (!records.sorted) sortByLogTime(records.messages);
  return { ok: true, messages: records.messages, records };
}

/**
 * Decodes as much of a cut-off chunk's stored records as the compression allows: zstd and lz4 up
 * to the last complete block, uncompressed records as they are. Returns undefined for other
 * compressions (bz2 streams are not decoded in part).
 */
export function decodeChunkPrefix(compression: string, stored: Uint8Array, uncompressedSize: number): DecodedPrefix | undefined {
  switch (compression) {
    case '':
      return { data: stored, steps: null };
    case 'zstd':
      return decompressZstdPrefix(stored, uncompressedSize);
    case 'lz4':
      return decompressLz4Prefix(stored, uncompressedSize);
    default:
      return undefined;
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
