import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { findSharedData } from '@fieldloop/contracts';
import { detectImageFormat } from '../src/recording/detect-format.ts';
import { ImageDecodeError, prepareEncodedImage, prepareRawImage } from '../src/image/prepare-image.ts';
import { imageFromMessage } from '../src/image/ros-image.ts';

const SPEC = { width: 8, height: 6, fit: 'fill' as const };

/** A 4x2 image: left half pure red, right half pure blue. */
function redBlue(): { width: number; height: number; rgb: Uint8Array } {
  const width = 4;
  const height = 2;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const at = (y * width + x) * 3;
      if (x < 2) rgb[at] = 255;
      else rgb[at + 2] = 255;
    }
  }
  return { width, height, rgb };
}

async function encode(format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const { width, height, rgb } = redBlue();
  return sharp(rgb, { raw: { width, height, channels: 3 } })[format]().toBuffer();
}

describe('prepareEncodedImage', () => {
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    it(`decodes and resizes ${format}`, async () => {
      const bytes = await encode(format);
      expect(detectImageFormat(bytes)).toBe(format);
      const prepared = await prepareEncodedImage(bytes, SPEC, `test.${format}`);
      expect(prepared.sourceFormat).toBe(format);
      expect(prepared.input.length).toBe(8 * 6 * 3);
      expect([prepared.sourceWidth, prepared.sourceHeight]).toEqual([4, 2]);
      expect(prepared.input[0]).toBeGreaterThan(200);
      expect(prepared.input[2]).toBeLessThan(60);
      const lastPixel = prepared.input.subarray(prepared.input.length - 3);
      expect(lastPixel[2]).toBeGreaterThan(200);
      expect(lastPixel[0]).toBeLessThan(60);
    });
  }

  it('drops the alpha channel of RGBA input', async () => {
    const rgba = new Uint8Array(4 * 4 * 4).fill(200);
    const png = await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } }).png().toBuffer();
    const prepared = await prepareEncodedImage(png, SPEC, 'rgba.png');
    expect(prepared.input.length).toBe(8 * 6 * 3);
  });

  it('reads an 8-bit palette BMP bottom-up', async () => {
    // 2x2, palette entry 1 is pure green; rows are stored bottom-up, so the first stored row is y=1.
    const width = 2;
    const height = 2;
    const rowBytes = 4;
    const palette = new Uint8Array(256 * 4);
    palette.set([0, 255, 0, 0], 4);
    const pixels = new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0]);
    const header = new Uint8Array(54);
    const view = new DataView(header.buffer);
    header.set([0x42, 0x4d]);
    view.setUint32(2, 54 + palette.length + pixels.length, true);
    view.setUint32(10, 54 + palette.length, true);
    view.setUint32(14, 40, true);
    view.setInt32(18, width, true);
    view.setInt32(22, height, true);
    view.setUint16(26, 1, true);
    view.setUint16(28, 8, true);
    view.setUint32(34, rowBytes * height, true);
    view.setUint32(46, 256, true);
    const bmp = Buffer.concat([header, palette, pixels]);
    const prepared = await prepareEncodedImage(bmp, { width: 2, height: 2, fit: 'fill' }, 'tiny.bmp');
    expect(prepared.sourceFormat).toBe('bmp');
    expect([...prepared.input.subarray(0, 3)]).toEqual([0, 0, 0]);
    expect([...prepared.input.subarray(6, 9)]).toEqual([0, 255, 0]);
  });

  it('rejects bytes that are no image', async () => {
    const error = await prepareEncodedImage(Buffer.from('not an image at all'), SPEC, 'frame 7').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as Error).message).toMatch(/frame 7 holds no PNG, JPEG/);
  });

  it('rejects a truncated PNG with its origin', async () => {
    const png = await encode('png');
    const error = await prepareEncodedImage(png.subarray(0, 40), SPEC, 'cut.png').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as Error).message).toMatch(/cut\.png/);
  });

  const data = findSharedData();
  it.skipIf(!data)('reads the RC-car frames, PNG named .jpg (needs shared/data)', async () => {
    const bytes = await readFile(join(data as string, 'images/rc_night_frames/0.jpg'));
    expect(detectImageFormat(bytes)).toBe('png');
    const prepared = await prepareEncodedImage(bytes, { width: 160, height: 90, fit: 'fill' }, '0.jpg');
    expect([prepared.sourceWidth, prepared.sourceHeight]).toEqual([455, 256]);
    expect(prepared.input.length).toBe(160 * 90 * 3);
  });
});

describe('imageFromMessage', () => {
  it('returns CompressedImage bytes as they are', () => {
    const data = new Uint8Array([1, 2, 3]);
    const image = imageFromMessage({ format: 'png', data }, '/cam');
    expect(image).toEqual({ kind: 'encoded', bytes: data });
  });

  it('converts bgr8 with row padding to RGB', async () => {
    // 2x1 image, step 8 (2 padding bytes): pixel 0 blue, pixel 1 red in BGR order.
    const data = new Uint8Array([255, 0, 0, 0, 0, 255, 9, 9]);
    const image = imageFromMessage({ width: 2, height: 1, encoding: 'bgr8', is_bigendian: 0, step: 8, data }, '/cam');
    if (image.kind !== 'raw') throw new Error('expected raw pixels');
    expect([...image.pixels.data]).toEqual([0, 0, 255, 255, 0, 0]);
    const prepared = await prepareRawImage(image.pixels, { width: 2, height: 1, fit: 'fill' }, '/cam');
    expect([...prepared.input]).toEqual([0, 0, 255, 255, 0, 0]);
  });

  it('takes the high byte of mono16 in either byte order', () => {
    const little = imageFromMessage({ width: 1, height: 1, encoding: 'mono16', is_bigendian: 0, step: 2, data: new Uint8Array([0x34, 0x12]) }, '/d');
    const big = imageFromMessage({ width: 1, height: 1, encoding: 'mono16', is_bigendian: 1, step: 2, data: new Uint8Array([0x12, 0x34]) }, '/d');
    if (little.kind !== 'raw' || big.kind !== 'raw') throw new Error('expected raw pixels');
    expect(little.pixels.data[0]).toBe(0x12);
    expect(big.pixels.data[0]).toBe(0x12);
  });

  it('rejects an unknown encoding and short data', () => {
    expect(() => imageFromMessage({ width: 2, height: 2, encoding: 'bayer_rggb8', step: 2, data: new Uint8Array(4) }, '/cam at 5')).toThrow(
      /\/cam at 5 has image encoding "bayer_rggb8"/,
    );
    expect(() => imageFromMessage({ width: 4, height: 4, encoding: 'rgb8', step: 12, data: new Uint8Array(10) }, '/cam')).toThrow(/too few/);
    expect(() => imageFromMessage({ data: 'nope' }, '/cam')).toThrow(/no data byte array/);
  });
});
