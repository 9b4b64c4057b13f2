import * as tf from '@tensorflow/tfjs';
import type { HeadSpec, InputSpec } from '@fieldloop/contracts';

export interface StudentOptions {
  /** Scales every layer's channel count (MobileNet's alpha). Default 0.5. */
  widthMultiplier?: number;
  /** Output channels and stride of each depthwise-separable block, before the multiplier. */
  blocks?: Array<{ channels: number; stride: number }>;
  /** Seed of the weight initialisers. Default 1. */
  seed?: number;
}

/**
 * Moving-average momentum of the student's batch norms. The tfjs default of 0.99 leaves a third
 * of the initial statistics in place after about 100 steps, which small field data sets never
 * outgrow, so inference statistics would not match training.
 */
const BATCH_NORM_MOMENTUM = 0.9;

const DEFAULT_BLOCKS = [
  { channels: 64, stride: 1 },
  { channels: 128, stride: 2 },
  { channels: 128, stride: 1 },
  { channels: 256, stride: 2 },
  { channels: 256, stride: 1 },
];

/** Returns the output units of a head: class count, 1 logit for binary, 1 value for regression. */
export function headUnits(head: HeadSpec): number {
  if (head.kind === 'classification') {
    if (head.classes === undefined || head.classes.length < 2) {
      throw new Error(`Classification head '${head.name}' needs at least 2 classes in HeadSpec.classes.`);
    }
    return head.classes.length;
  }
  return 1;
}

/**
 * Builds a MobileNet-style student: a strided 3x3 stem, then depthwise-separable blocks (3x3
 * depthwise and 1x1 pointwise, each with batch norm and ReLU6), then global average pooling.
 * Each head gets one dense output named after it: logits for classification and binary heads,
 * the normalised value for regression heads, as the teacher has them.
 */
export function buildStudent(heads: HeadSpec[], input: InputSpec, options: StudentOptions = {}): tf.LayersModel {
  if (heads.length === 0) throw new Error('Cannot build a student without heads; pass the teacher model card heads.');
  const alpha = options.widthMultiplier ?? 0.5;
  if (!(alpha > 0)) throw new Error(`widthMultiplier must be positive; got ${alpha}.`);
  let seed = options.seed ?? 1;
  const width = (channels: number): number => Math.max(8, Math.round(channels * alpha));

  const image = tf.input({ shape: [input.height, input.width, input.channels], name: 'image' });
  let x = tf.layers
    .conv2d({ filters: width(32), kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: 'stem_conv' })
    .apply(image) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ momentum: BATCH_NORM_MOMENTUM, name: 'stem_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6, name: 'stem_relu' }).apply(x) as tf.SymbolicTensor;

  (options.blocks ?? DEFAULT_BLOCKS).forEach((block, i) => {
    const prefix = `block${i + 1}`;
    x = tf.layers
      .depthwiseConv2d({ kernelSize: 3, strides: block.stride, padding: 'same', useBias: false, depthwiseInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: `${prefix}_dw` })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ momentum: BATCH_NORM_MOMENTUM, name: `${prefix}_dw_bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ maxValue: 6, name: `${prefix}_dw_relu` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .conv2d({ filters: width(block.channels), kernelSize: 1, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: `${prefix}_pw` })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ momentum: BATCH_NORM_MOMENTUM, name: `${prefix}_pw_bn` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ maxValue: 6, name: `${prefix}_pw_relu` }).apply(x) as tf.SymbolicTensor;
  });

  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const outputs = heads.map(
    (head) =>
      tf.layers
        .dense({ units: headUnits(head), kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: head.name })
        .apply(pooled) as tf.SymbolicTensor,
  );
  return tf.model({ inputs: image, outputs, name: 'student' });
}
