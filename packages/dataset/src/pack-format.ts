import type { FileHandle } from 'node:fs/promises';
import { readFully } from './file-blob.ts';

/**
 * Byte layout of a pack file: the 8 ASCII bytes `FLDPACK1`, then records appended one after the
 * other. A record is the blob's sha256 as 32 raw bytes, its length as an unsigned 64-bit
 * big-endian integer, and the blob's bytes. The index stores where each blob's bytes start, so a
 * reader needs no scan. The record headers let a reader check that an index entry points at the
 * blob it names.
 */
export const PACK_MAGIC = Buffer.from('FLDPACK1', 'ascii');

/** Bytes of a record header: the sha256 (32) and the length (8). */
export const RECORD_HEADER_BYTES = 40;

const PACK_FILE_NAME = /^(\d{8})\.pack$/;

/** Returns the file name of the pack with the given id, such as `00000001.pack` for 1. */
export function packFileName(id: number): string {
  return `${String(id).padStart(8, '0')}.pack`;
}

/** Returns the pack id of a pack file name, or null for any other name. */
export function parsePackFileName(name: string): number | null {
  const match = PACK_FILE_NAME.exec(name);
  return match === null ? null : Number(match[1]);
}

/** Encodes the header of a record that stores `length` bytes with the given sha256. */
export function encodeRecordHeader(sha256: string, length: number): Buffer {
  const header = Buffer.alloc(RECORD_HEADER_BYTES);
  header.write(sha256, 0, 32, 'hex');
  header.writeBigUInt64BE(BigInt(length), 32);
  return header;
}

/**
 * Compares a record header with the index entry that points after it. Returns a description of
 * the first difference, or null when the header names the same sha256 and length.
 */
export function findRecordHeaderMismatch(header: Uint8Array, sha256: string, length: number): string | null {
  const bytes = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  const storedHash = bytes.subarray(0, 32).toString('hex');
  if (storedHash !== sha256) return `the record header names blob ${storedHash}`;
  const storedLength = bytes.readBigUInt64BE(32);
  if (storedLength !== BigInt(length)) return `the record header gives length ${storedLength}, not ${length}`;
  return null;
}

/** Tells whether an open file starts with the pack magic. A file taken in as a pack does not. */
export async function startsWithPackMagic(handle: FileHandle): Promise<boolean> {
  const magic = Buffer.alloc(PACK_MAGIC.length);
  return (await readFully(handle, magic, 0)) === magic.length && magic.equals(PACK_MAGIC);
}
