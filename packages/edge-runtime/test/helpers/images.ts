import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';

/** Encodes a solid-colour PNG of the given size. */
export async function solidPng(width: number, height: number, rgb: [number, number, number]): Promise<Uint8Array> {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i += 3) {
    data[i] = rgb[0];
    data[i + 1] = rgb[1];
    data[i + 2] = rgb[2];
  }
  return new Uint8Array(await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer());
}

/** Writes `count` PNG frames of varied colours into `dir`, named frame-0.png, frame-1.png, ... */
export async function writeFrameFolder(dir: string, count: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i += 1) {
    await writeFile(join(dir, `frame-${i}.png`), await solidPng(16, 12, [(i * 37) % 256, (i * 91) % 256, (i * 53) % 256]));
  }
}
