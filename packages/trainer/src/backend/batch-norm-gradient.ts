import * as tf from '@tensorflow/tfjs';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs';

/** Axes of `shape` along which a parameter of `parameterShape` is broadcast (right-aligned). */
function broadcastAxes(parameterShape: number[], shape: number[]): number[] {
  const offset = shape.length - parameterShape.length;
  const axes: number[] = [];
  shape.forEach((size, axis) => {
    const parameterSize = axis < offset ? 1 : parameterShape[axis - offset];
    if (parameterSize === 1 && size !== 1) axes.push(axis);
  });
  return axes;
}

/**
 * Gradient of FusedBatchNorm, y = (x - mean) * r * scale + offset with r = 1 / sqrt(variance + eps),
 * written with broadcasting. tfjs-core 4.22's own gradient tiles r to the full input shape first,
 * and the wasm backend's Tile kernel made that the slowest step of a training batch.
 */
const batchNormGradient: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: NamedAttrMap) => {
    const gradient = dy as tf.Tensor;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const epsilon = attrs.varianceEpsilon as number;
    const axes = broadcastAxes(mean.shape, x.shape);
    const reduce = (t: tf.Tensor): tf.Tensor => (axes.length > 0 ? tf.sum(t, axes) : t).reshape(mean.shape);
    const scaleValue = scale ?? tf.scalar(1);
    const r = tf.rsqrt(tf.add(variance, epsilon));
    const centered = tf.sub(x, mean);
    const dyScaled = tf.mul(gradient, scaleValue);
    return {
      x: () => tf.mul(dyScaled, r),
      mean: () => reduce(tf.neg(tf.mul(dyScaled, r))),
      variance: () => reduce(tf.mul(tf.mul(dyScaled, centered), tf.mul(-0.5, tf.pow(r, 3)))),
      scale: () => reduce(tf.mul(gradient, tf.mul(centered, r))),
      offset: () => reduce(gradient),
    };
  },
};

/**
 * Replaces the FusedBatchNorm gradient with `batchNormGradient`. The gradient registry is
 * shared by all backends in the process, and the result equals tfjs-core's up to float rounding.
 */
export function registerBatchNormGradient(): void {
  if (tf.getGradient('FusedBatchNorm') !== batchNormGradient) tf.registerGradient(batchNormGradient);
}
