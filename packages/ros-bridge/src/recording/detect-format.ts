import { open, stat } from 'node:fs/promises';

/** What a path holds, judged by its bytes and, for directories, by the files inside. */
export type DetectedKind = 'mcap' | 'rosbag2-sqlite3' | 'ros1-bag' | 'directory' | 'image' | 'unknown';

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'bmp' | 'tiff';

const MCAP_MAGIC = Buffer.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]);
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const ROS1_MAGIC = Buffer.from('#ROSBAG V2.0\n', 'latin1');

/** Recognises an encoded image by its signature bytes; returns null for anything else. */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (
    b.length >= 12 &&
    b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 &&
    b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50
  ) {
    return 'webp';
  }
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'gif';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0x00) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0x00 && b[3] === 0x2a))
  ) {
    return 'tiff';
  }
  return null;
}

function startsWith(head: Buffer, magic: Buffer): boolean {
  return head.length >= magic.length && head.subarray(0, magic.length).equals(magic);
}

/** Classifies one path by content: the file's leading bytes, never its extension. */
export async function detectKind(path: string): Promise<DetectedKind> {
  const info = await stat(path);
  if (info.isDirectory()) return 'directory';
  if (!info.isFile()) return 'unknown';
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const bytes = head.subarray(0, bytesRead);
    if (startsWith(bytes, MCAP_MAGIC)) return 'mcap';
    if (startsWith(bytes, SQLITE_MAGIC)) return 'rosbag2-sqlite3';
    if (startsWith(bytes, ROS1_MAGIC)) return 'ros1-bag';
    if (detectImageFormat(bytes) !== null) return 'image';
    return 'unknown';
  } finally {
    await handle.close();
  }
}
