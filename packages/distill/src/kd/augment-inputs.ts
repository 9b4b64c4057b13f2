import type { InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';

/**
 * Label-preserving augmentation of distillation inputs. Teacher and student see the same
 * augmented batch, so the distillation term teaches on images the data set does not contain.
 * Flips are left out because they change some labels (steering) and are invalid for others
 * (traffic signs).
 */
export interface AugmentConfig {
  /** Largest share of each side cut away by a random crop that is resized back; 0 turns it off. */
  crop: number;
  /** Largest brightness change: raw pixels are multiplied by a factor in `1 ± brightness`. */
  brightness: number;
  /** Standard deviation of Gaussian pixel noise in raw 0-255 units. */
  noise: number;
}

/** Augmentation `fieldloop distill` applies unless told otherwise. */
export const DEFAULT_AUGMENT: AugmentConfig = { crop: 0.1, brightness: 0.2, noise: 2 };

/** Augmentation off. */
export const NO_AUGMENT: AugmentConfig = { crop: 0, brightness: 0, noise: 0 };

/** Raises when a share is outside [0, 1) or the noise is negative. */
export function validateAugmentConfig(config: AugmentConfig): void {
  for (const key of ['crop', 'brightness'] as const) {
    const value = config[key];
    if (!(value >= 0 && value < 1)) throw new Error(`Augmentation ${key} must be in [0, 1); got ${value}.`);
  }
  if (!(config.noise >= 0)) throw new Error(`Augmentation noise must be 0 or more (raw 0-255 units); got ${config.noise}.`);
}

export function isAugmentOff(config: AugmentConfig): boolean {
  return config.crop === 0 && config.brightness === 0 && config.noise === 0;
}

/**
 * Returns an augmented copy of a normalised NHWC batch. Each sample gets its own random crop
 * (bilinear resize back to the input size) and brightness factor, drawn from `random`. Brightness
 * and noise apply to raw pixels in [0, 1], which are clipped to that range before normalising again.
 */
export function augmentInputs(inputs: tf.Tensor4D, input: InputSpec, config: AugmentConfig, random: () => number): tf.Tensor4D {
  const [batch, height, width] = inputs.shape;
  const boxes: number[][] = [];
  const factors: number[] = [];
  for (let i = 0; i < batch; i++) {
    const keep = 1 - random() * config.crop;
    const top = random() * (1 - keep);
    const left = random() * (1 - keep);
    boxes.push([top, left, top + keep, left + keep]);
    factors.push(1 + (random() * 2 - 1) * config.brightness);
  }
  const noiseSeed = Math.floor(random() * 2 ** 31);
  return tf.tidy(() => {
    const mean = tf.tensor1d(input.mean);
    const std = tf.tensor1d(input.std);
    let raw: tf.Tensor4D = tf.add(tf.mul(inputs, std), mean);
    if (config.crop > 0) {
      const indices = tf.tensor1d(Array.from({ length: batch }, (_, i) => i), 'int32');
      raw = tf.image.cropAndResize(raw, tf.tensor2d(boxes), indices, [height, width], 'bilinear');
    }
    if (config.brightness > 0) raw = tf.mul(raw, tf.tensor4d(factors, [batch, 1, 1, 1]));
    if (config.noise > 0) raw = tf.add(raw, tf.randomNormal(raw.shape, 0, config.noise / 255, 'float32', noiseSeed));
    return tf.div(tf.sub(tf.clipByValue(raw, 0, 1), mean), std) as tf.Tensor4D;
  });
}
