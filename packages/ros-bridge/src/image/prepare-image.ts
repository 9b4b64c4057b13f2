import sharp from 'sharp';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import { detectImageFormat, type ImageFormat } from '../recording/detect-format.ts';

/** Target size and fit of model inputs. */
export interface ResizeSpec {
  width: number;
  height: number;
  fit: 'fill' | 'cover' | 'contain';
}

/** Raw pixels with their layout, as a sensor_msgs/Image carries them once converted. */
export interface RawPixels {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

/** A decoded, resized image ready for the store. */
export interface PreparedImage {
  /** Raw RGB bytes, row-major, `height * width * 3` long. */
  input: Buffer;
  width: number;
  height: number;
  sourceWidth: number;
  sourceHeight: number;
  /** Encoded format of the source, or `raw` for pixel buffers. */
  sourceFormat: ImageFormat | 'raw';
}

/** Raised for image bytes that cannot be decoded; the message names where they came from. */
export class ImageDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageDecodeError';
  }
}

const SHARP_FIT = { fill: 'fill', cover: 'cover', contain: 'contain' } as const;

async function toRgb(pipeline: Sharp, spec: ResizeSpec, origin: string): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await pipeline
      .resize(spec.width, spec.height, { fit: SHARP_FIT[spec.fit], background: { r: 0, g: 0, b: 0 } })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new ImageDecodeError(`cannot decode the image from ${origin}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Decodes encoded image bytes (PNG, JPEG, WebP, GIF, BMP or TIFF, recognised by their signature)
 * and resizes them to RGB. `origin` names the file or message in errors.
 */
export async function prepareEncodedImage(bytes: Uint8Array, spec: ResizeSpec, origin: string): Promise<PreparedImage> {
  const format = detectImageFormat(bytes);
  if (format === null) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    throw new ImageDecodeError(
      `${origin} holds no PNG, JPEG, WebP, GIF, BMP or TIFF image (first bytes ${head || 'none'}); ` +
        'check that the mapping points at an image topic or file',
    );
  }
  if (format === 'bmp') return prepareBmp(bytes, spec, origin);
  const image = sharp(bytes, { failOn: 'error' });
  let metadata: Metadata;
  try {
    metadata = await image.metadata();
  } catch (error) {
    throw new ImageDecodeError(`cannot read the ${format} image from ${origin}: ${(error as Error).message}`, { cause: error });
  }
  const { data, info } = await toRgb(image, spec, origin);
  return finish(data, info, metadata.width ?? 0, metadata.height ?? 0, format, origin);
}

/** Resizes raw pixels (already converted to 1 to 4 interleaved 8-bit channels) to RGB. */
export async function prepareRawImage(pixels: RawPixels, spec: ResizeSpec, origin: string): Promise<PreparedImage> {
  const expected = pixels.width * pixels.height * pixels.channels;
  if (pixels.data.length < expected) {
    throw new ImageDecodeError(
      `${origin} has ${pixels.data.length} pixel bytes but ${pixels.width}x${pixels.height}x${pixels.channels} needs ${expected}`,
    );
  }
  const image = sharp(pixels.data.subarray(0, expected), {
    raw: { width: pixels.width, height: pixels.height, channels: pixels.channels },
  });
  const { data, info } = await toRgb(image, spec, origin);
  return finish(data, info, pixels.width, pixels.height, 'raw', origin);
}

function finish(
  data: Buffer,
  info: OutputInfo,
  sourceWidth: number,
  sourceHeight: number,
  sourceFormat: PreparedImage['sourceFormat'],
  origin: string,
): PreparedImage {
  if (info.channels !== 3) {
    throw new ImageDecodeError(`${origin} decoded to ${info.channels} channels instead of RGB`);
  }
  return { input: data, width: info.width, height: info.height, sourceWidth, sourceHeight, sourceFormat };
}

/**
 * Decodes an uncompressed BMP (8-bit palette, 24-bit or 32-bit), which libvips builds often lack.
 * Rows stored bottom-up (positive height) come out top-down.
 */
async function prepareBmp(bytes: Uint8Array, spec: ResizeSpec, origin: string): Promise<PreparedImage> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (problem: string): never => {
    throw new ImageDecodeError(`${origin} is a BMP that fieldloop cannot read: ${problem}`);
  };
  if (bytes.length < 54) fail(`only ${bytes.length} bytes`);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const bitsPerPixel = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  if (compression !== 0 && compression !== 3) fail(`compression ${compression} (only uncompressed BMP is supported)`);
  if (width <= 0 || rawHeight === 0) fail(`invalid size ${width}x${rawHeight}`);
  const height = Math.abs(rawHeight);
  const rowBytes = Math.ceil((width * bitsPerPixel) / 32) * 4;
  if (pixelOffset + rowBytes * height > bytes.length) fail('pixel data runs past the end of the file');
  let colors = view.getUint32(46, true);
  if (bitsPerPixel === 8 && colors === 0) colors = 256;
  const paletteOffset = 14 + headerSize;
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y += 1) {
    const sourceRow = rawHeight > 0 ? height - 1 - y : y;
    const rowStart = pixelOffset + sourceRow * rowBytes;
    for (let x = 0; x < width; x += 1) {
      const out = (y * width + x) * 3;
      if (bitsPerPixel === 8) {
        const index = bytes[rowStart + x] as number;
        if (index >= colors) fail(`palette index ${index} outside a palette of ${colors}`);
        const entry = paletteOffset + index * 4;
        rgb[out] = bytes[entry + 2] as number;
        rgb[out + 1] = bytes[entry + 1] as number;
        rgb[out + 2] = bytes[entry] as number;
      } else if (bitsPerPixel === 24 || bitsPerPixel === 32) {
        const pixel = rowStart + x * (bitsPerPixel / 8);
        rgb[out] = bytes[pixel + 2] as number;
        rgb[out + 1] = bytes[pixel + 1] as number;
        rgb[out + 2] = bytes[pixel] as number;
      } else {
        fail(`${bitsPerPixel} bits per pixel (8, 24 and 32 are supported)`);
      }
    }
  }
  const prepared = await prepareRawImage({ width, height, channels: 3, data: rgb }, spec, origin);
  return { ...prepared, sourceFormat: 'bmp' };
}
