import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const BLOCK = 512;

/**
 * Packs the plain files of a flat bundle directory into an uncompressed POSIX ustar archive,
 * in name order so the same directory gives the same bytes.
 */
export async function packBundle(dir: string): Promise<Buffer> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
  const parts: Buffer[] = [];
  for (const name of entries) {
    if (Buffer.byteLength(name) > 100) throw new Error(`bundle file name ${name} is longer than the 100 bytes that fit in a tar header`);
    const data = await readFile(join(dir, name));
    parts.push(tarHeader(name, data.length), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** Unpacks an archive written by packBundle into `dir`; rejects paths, links and bad checksums. */
export async function unpackBundle(archive: Uint8Array, dir: string): Promise<string[]> {
  const bytes = Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength);
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  let offset = 0;
  while (offset + BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) return names;
    const name = readString(header, 0, 100);
    const size = Number.parseInt(readString(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const checksum = Number.parseInt(readString(header, 148, 8).trim(), 8);
    if (checksum !== headerChecksum(header)) throw new Error(`bundle archive header at byte ${offset} has a bad checksum; the archive is corrupt`);
    if (type !== '0' && type !== '\0') throw new Error(`bundle archive entry ${name} is not a regular file (type ${JSON.stringify(type)})`);
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.')) throw new Error(`bundle archive entry name ${JSON.stringify(name)} is not a plain file name`);
    if (!Number.isInteger(size) || offset + BLOCK + size > bytes.length) throw new Error(`bundle archive entry ${name} runs past the end of the archive; it is truncated`);
    await writeFile(join(dir, name), bytes.subarray(offset + BLOCK, offset + BLOCK + size));
    names.push(name);
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new Error('bundle archive ends without its two zero end blocks; it is truncated');
}

function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 8, 'ascii');
  header.write('0000000\0', 108, 8, 'ascii');
  header.write('0000000\0', 116, 8, 'ascii');
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  header.write('00000000000\0', 136, 12, 'ascii');
  header.write('        ', 148, 8, 'ascii');
  header.write('0', 156, 1, 'ascii');
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  header.write(`${headerChecksum(header).toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return header;
}

/** Sums the header bytes with the checksum field counted as spaces. */
function headerChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i += 1) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
  return sum;
}

function readString(header: Buffer, start: number, length: number): string {
  const field = header.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}
