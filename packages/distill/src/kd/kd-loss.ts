import * as tf from '@tensorflow/tfjs';
import type { HeadSpec } from '@fieldloop/contracts';

export interface KdLossOptions {
  /** Softening temperature T of the teacher and student distributions. */
  temperature: number;
  /** Weight of the distillation term; the hard-label term gets `1 - alpha`. */
  alpha: number;
}

/**
 * Returns the mean of `values` over the samples whose mask is 1, or 0 when none is labelled, so
 * samples without a label add nothing to hard-label terms.
 */
export function maskedMean(values: tf.Tensor1D, mask: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(values, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/**
 * Classification: `T² · KL(softmax(t/T) ‖ softmax(s/T))` averaged over the batch, mixed by
 * alpha with the cross-entropy of the student logits against the class index labels.
 */
export function classificationKdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  mask: tf.Tensor1D,
  options: KdLossOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const t = options.temperature;
    const teacherLog = tf.logSoftmax(tf.div(teacherLogits, t));
    const studentLog = tf.logSoftmax(tf.div(studentLogits, t));
    const kl = tf.sum(tf.mul(tf.exp(teacherLog), tf.sub(teacherLog, studentLog)), -1);
    const soft = tf.mul(tf.mean(kl), t * t);
    const classes = studentLogits.shape[1];
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), classes);
    const crossEntropy = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(studentLogits)), -1)) as tf.Tensor1D;
    const hard = maskedMean(crossEntropy, mask);
    return tf.add(tf.mul(soft, options.alpha), tf.mul(hard, 1 - options.alpha)) as tf.Scalar;
  });
}

/** Binary cross-entropy per sample between logits and targets in [0, 1], in a stable form. */
function binaryCrossEntropyWithLogits(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  // max(z, 0) - z·y + log(1 + exp(-|z|))
  return tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
}

/**
 * Binary: the Bernoulli form of the classification loss. `T² · KL(σ(t/T) ‖ σ(s/T))` mixed by
 * alpha with the binary cross-entropy of the student logit against 0/1 labels.
 */
export function binaryKdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  mask: tf.Tensor1D,
  options: KdLossOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const t = options.temperature;
    const s = tf.div(tf.reshape(studentLogits, [-1]), t);
    const teacher = tf.div(tf.reshape(teacherLogits, [-1]), t);
    const p = tf.sigmoid(teacher);
    // KL(p ‖ q) = BCE(p, q) - H(p), with both computed from logits.
    const kl = tf.sub(binaryCrossEntropyWithLogits(s, p), binaryCrossEntropyWithLogits(teacher, p));
    const soft = tf.mul(tf.mean(kl), t * t);
    const hard = maskedMean(binaryCrossEntropyWithLogits(tf.reshape(studentLogits, [-1]), labels) as tf.Tensor1D, mask);
    return tf.add(tf.mul(soft, options.alpha), tf.mul(hard, 1 - options.alpha)) as tf.Scalar;
  });
}

/**
 * Regression: squared error to the teacher's output, mixed by alpha with the squared error to the
 * (normalised) label. The temperature does not apply.
 */
export function regressionKdLoss(
  studentValues: tf.Tensor2D,
  teacherValues: tf.Tensor2D,
  labels: tf.Tensor1D,
  mask: tf.Tensor1D,
  options: KdLossOptions,
): tf.Scalar {
  return tf.tidy(() => {
    const s = tf.reshape(studentValues, [-1]);
    const soft = tf.mean(tf.square(tf.sub(s, tf.reshape(teacherValues, [-1]))));
    const hard = maskedMean(tf.square(tf.sub(s, labels)) as tf.Tensor1D, mask);
    return tf.add(tf.mul(soft, options.alpha), tf.mul(hard, 1 - options.alpha)) as tf.Scalar;
  });
}

/** Feature-hint loss: mean squared error between a student feature map and the teacher's. */
export function hintLoss(studentFeature: tf.Tensor, teacherFeature: tf.Tensor): tf.Scalar {
  if (studentFeature.shape.join(',') !== teacherFeature.shape.join(',')) {
    throw new Error(
      `Hint feature shapes differ: student [${studentFeature.shape.join(', ')}], teacher [${teacherFeature.shape.join(', ')}]; pick layers with equal spatial size.`,
    );
  }
  return tf.tidy(() => tf.mean(tf.square(tf.sub(studentFeature, teacherFeature))) as tf.Scalar);
}

/** Dispatches to the loss of the head's kind. */
export function headKdLoss(
  head: HeadSpec,
  student: tf.Tensor2D,
  teacher: tf.Tensor2D,
  labels: tf.Tensor1D,
  mask: tf.Tensor1D,
  options: KdLossOptions,
): tf.Scalar {
  switch (head.kind) {
    case 'classification':
      return classificationKdLoss(student, teacher, labels, mask, options);
    case 'binary':
      return binaryKdLoss(student, teacher, labels, mask, options);
    case 'regression':
      return regressionKdLoss(student, teacher, labels, mask, options);
  }
}
