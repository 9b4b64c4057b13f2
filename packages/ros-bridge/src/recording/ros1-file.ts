import type { FileHandle } from 'node:fs/promises';
import { readRecordHeader, type Ros1RecordHeaderRead } from './ros1-record.ts';

// Larger than the record headers that rosbag writes in practice, so one read usually gets a whole header.
const HEADER_WINDOW_BYTES = 4096;

/** Reads up to `length` bytes at `position`. The result is shorter only at the end of the file. */
export async function readBytesAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/**
 * Reads the header of the record at file offset `position`. Offsets in the result are file
 * offsets. The record's data is not read and may extend past the end of the file.
 */
export async function readRecordHeaderAt(
  handle: FileHandle,
  position: number,
  fileSize: number,
): Promise<Ros1RecordHeaderRead> {
  let window = await readBytesAt(handle, position, Math.min(HEADER_WINDOW_BYTES, fileSize - position));
  if (window.length >= 4) {
    const headerLength = new DataView(window.buffer, window.byteOffset, 4).getUint32(0, true);
    const needed = 4 + headerLength + 4;
    if (needed > window.length && position + needed <= fileSize) {
      window = await readBytesAt(handle, position, needed);
    }
  }
  const read = readRecordHeader(window, 0);
  if (read.kind !== 'header') return read;
  const { header } = read;
  return {
    kind: 'header',
    header: {
      ...header,
      offset: position,
      dataOffset: position + header.dataOffset,
      end: position + header.end,
    },
  };
}
