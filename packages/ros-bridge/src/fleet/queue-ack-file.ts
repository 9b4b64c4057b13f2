import { crc32 } from 'node:zlib';
import { readU64, writeU64 } from './queue-record.ts';

/** Why an item left the queue: acknowledged by the broker, or dropped (overflow policy or a lost record). */
export type AckKind = 'acked' | 'dropped';

/**
 * Record layout of an acknowledgement file, 16 bytes, little endian: id u64, kind u32 (1 acked,
 * 2 dropped), CRC-32 u32 of the first 12 bytes. The CRC keeps a torn or garbage tail from
 * removing a live item.
 */
const ACK_RECORD_BYTES = 16;
const KIND_CODES: Record<AckKind, number> = { acked: 1, dropped: 2 };
const KIND_BY_CODE = new Map<number, AckKind>([
  [1, 'acked'],
  [2, 'dropped'],
]);

export function encodeAcks(entries: ReadonlyArray<{ id: number; kind: AckKind }>): Buffer {
  const buffer = Buffer.alloc(entries.length * ACK_RECORD_BYTES);
  entries.forEach((entry, position) => {
    const offset = position * ACK_RECORD_BYTES;
    writeU64(buffer, offset, entry.id);
    buffer.writeUInt32LE(KIND_CODES[entry.kind], offset + 8);
    buffer.writeUInt32LE(crc32(buffer.subarray(offset, offset + 12)), offset + 12);
  });
  return buffer;
}

/** Decodes an acknowledgement file; records that fail their CRC-32 are skipped. The first kind given for an id wins. */
export function decodeAcks(buffer: Buffer): Map<number, AckKind> {
  const acks = new Map<number, AckKind>();
  for (let offset = 0; offset + ACK_RECORD_BYTES <= buffer.length; offset += ACK_RECORD_BYTES) {
    if (crc32(buffer.subarray(offset, offset + 12)) !== buffer.readUInt32LE(offset + 12)) continue;
    const code = buffer.readUInt32LE(offset + 8);
    const kind = KIND_BY_CODE.get(code);
    const id = readU64(buffer, offset);
    if (kind !== undefined && !acks.has(id)) acks.set(id, kind);
  }
  return acks;
}
