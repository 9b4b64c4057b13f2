import { writeSync, writevSync } from 'node:fs';

/** Buffers that one writev call takes at most; Linux limits a call to 1024 (IOV_MAX). */
const MAX_PIECES_PER_WRITE = 1024;

/** Writes `pieces` one after another from `position`, resuming after short writes; returns the bytes written. */
export function writeAllAt(fd: number, pieces: readonly Buffer[], position: number): number {
  let written = 0;
  for (let start = 0; start < pieces.length; start += MAX_PIECES_PER_WRITE) {
    const chunk = pieces.slice(start, start + MAX_PIECES_PER_WRITE);
    const chunkBytes = chunk.reduce((sum, piece) => sum + piece.length, 0);
    let done = writevSync(fd, chunk, position + written);
    if (done < chunkBytes) {
      const rest = Buffer.concat(chunk).subarray(done);
      while (done < chunkBytes) done += writeSync(fd, rest, done - (chunkBytes - rest.length), chunkBytes - done, position + written + done);
    }
    written += chunkBytes;
  }
  return written;
}
