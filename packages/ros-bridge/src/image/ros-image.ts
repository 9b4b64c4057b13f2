import { ImageDecodeError, type RawPixels } from './prepare-image.ts';

/** The image a decoded ROS message carries: encoded bytes, or raw pixels already converted. */
export type MessageImage = { kind: 'encoded'; bytes: Uint8Array } | { kind: 'raw'; pixels: RawPixels; bytes: Uint8Array };

interface RosImageFields {
  width?: unknown;
  height?: unknown;
  encoding?: unknown;
  is_bigendian?: unknown;
  step?: unknown;
  data?: unknown;
  format?: unknown;
}

function asBytes(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'number')) return Uint8Array.from(value);
  return null;
}

/**
 * Extracts the image of a sensor_msgs/CompressedImage or sensor_msgs/Image message. Raw
 * encodings rgb8, bgr8, rgba8, bgra8, mono8, mono16, 8UC1, 8UC3 and 8UC4 are converted to RGB(A)
 * or grey; row padding (`step`) is removed. `origin` names the topic and time in errors.
 */
export function imageFromMessage(message: unknown, origin: string): MessageImage {
  const fields = (message ?? {}) as RosImageFields;
  const data = asBytes(fields.data);
  if (data === null) {
    throw new ImageDecodeError(`${origin} has no data byte array; map an image topic (sensor_msgs/Image or CompressedImage)`);
  }
  if (typeof fields.format === 'string' && fields.encoding === undefined) return { kind: 'encoded', bytes: data };
  const width = Number(fields.width);
  const height = Number(fields.height);
  const encoding = String(fields.encoding ?? '');
  const step = Number(fields.step ?? 0);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ImageDecodeError(`${origin} has an invalid image size ${String(fields.width)}x${String(fields.height)}`);
  }
  const layout = RAW_LAYOUTS[encoding];
  if (!layout) {
    throw new ImageDecodeError(
      `${origin} has image encoding ${JSON.stringify(encoding)}, which fieldloop does not convert ` +
        `(supported: ${Object.keys(RAW_LAYOUTS).join(', ')}); republish it as rgb8 or as a CompressedImage`,
    );
  }
  const rowBytes = width * layout.bytesPerPixel;
  const stride = step > 0 ? step : rowBytes;
  if (stride < rowBytes || data.length < stride * (height - 1) + rowBytes) {
    throw new ImageDecodeError(
      `${origin} has ${data.length} data bytes, too few for ${width}x${height} ${encoding} with step ${stride}`,
    );
  }
  const channels = layout.channels;
  const out = new Uint8Array(width * height * channels);
  const bigEndian = Number(fields.is_bigendian ?? 0) !== 0;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const source = y * stride + x * layout.bytesPerPixel;
      const target = (y * width + x) * channels;
      if (layout.bytesPerPixel === 2) {
        const high = bigEndian ? data[source] : data[source + 1];
        out[target] = high as number;
        continue;
      }
      for (let c = 0; c < channels; c += 1) out[target + c] = data[source + (layout.order[c] as number)] as number;
    }
  }
  return { kind: 'raw', pixels: { width, height, channels, data: out }, bytes: data };
}

interface RawLayout {
  bytesPerPixel: number;
  channels: 1 | 3 | 4;
  /** Source byte offset of each output channel (R, G, B, A order). */
  order: readonly number[];
}

const RAW_LAYOUTS: Record<string, RawLayout> = {
  rgb8: { bytesPerPixel: 3, channels: 3, order: [0, 1, 2] },
  bgr8: { bytesPerPixel: 3, channels: 3, order: [2, 1, 0] },
  '8UC3': { bytesPerPixel: 3, channels: 3, order: [2, 1, 0] },
  rgba8: { bytesPerPixel: 4, channels: 4, order: [0, 1, 2, 3] },
  bgra8: { bytesPerPixel: 4, channels: 4, order: [2, 1, 0, 3] },
  '8UC4': { bytesPerPixel: 4, channels: 4, order: [2, 1, 0, 3] },
  mono8: { bytesPerPixel: 1, channels: 1, order: [0] },
  '8UC1': { bytesPerPixel: 1, channels: 1, order: [0] },
  mono16: { bytesPerPixel: 2, channels: 1, order: [0] },
  '16UC1': { bytesPerPixel: 2, channels: 1, order: [0] },
};
