import type { InputSpec } from '@fieldloop/contracts';
import { prepareEncodedImage, prepareRawImage } from '@fieldloop/ros-bridge';

/** Raw pixels of a frame, the layout ros-bridge's prepareRawImage takes. */
export interface RawPixels {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

/** An image as frames carry it: encoded bytes (PNG, JPEG, ...) or raw pixels. */
export type FrameImage = { kind: 'encoded'; bytes: Uint8Array } | { kind: 'raw'; pixels: RawPixels };

/** Decodes and resizes (sharp, fit `fill`) an image to the input size; returns RGB bytes. */
export async function imageToRgb(image: FrameImage, spec: InputSpec, origin: string): Promise<Uint8Array> {
  const resize = { width: spec.width, height: spec.height, fit: 'fill' as const };
  const prepared = image.kind === 'encoded' ? await prepareEncodedImage(image.bytes, resize, origin) : await prepareRawImage(image.pixels, resize, origin);
  return prepared.input;
}

/** Normalises RGB bytes per InputSpec: `(p / 255 - mean[c]) / std[c]`, NHWC float32. */
export function normalizeRgb(rgb: Uint8Array, spec: InputSpec): Float32Array {
  const expected = spec.width * spec.height * 3;
  if (rgb.length !== expected) {
    throw new Error(`input has ${rgb.length} RGB bytes but ${spec.width}x${spec.height}x3 needs ${expected}`);
  }
  const out = new Float32Array(expected);
  for (let i = 0; i < expected; i += 1) {
    const channel = i % 3;
    out[i] = ((rgb[i] ?? 0) / 255 - spec.mean[channel]!) / spec.std[channel]!;
  }
  return out;
}
