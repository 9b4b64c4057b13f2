import { open, type FileHandle } from 'node:fs/promises';
import type { FileBlob } from './blob-store.ts';

/** Reads into `buffer` from `position` until it is full or the file ends, and returns the bytes read. */
export async function readFully(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let bytesRead = 0;
  while (bytesRead < buffer.length) {
    const read = await handle.read(buffer, bytesRead, buffer.length - bytesRead, position + bytesRead);
    if (read.bytesRead === 0) break;
    bytesRead += read.bytesRead;
  }
  return bytesRead;
}

/** Reads the bytes of a blob that lies in a file. Throws when the file ends before the blob does. */
export async function readFileBlob(blob: FileBlob): Promise<Buffer> {
  const handle = await open(blob.path, 'r');
  try {
    const bytes = Buffer.allocUnsafe(blob.length);
    const read = await readFully(handle, bytes, blob.offset);
    if (read < blob.length) {
      throw new Error(
        `${blob.path} ends at byte ${blob.offset + read}, before the end of the ${blob.length}-byte blob at offset ${blob.offset}; ` +
          'the file was cut short or the offset is wrong',
      );
    }
    return bytes;
  } finally {
    await handle.close();
  }
}
