import type { HeadSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import type { RegressionLoss } from './teacher-config.ts';

/** Targets of one head for a batch. Masked samples (mask 0) carry a placeholder target of 0. */
export interface HeadTargets {
  /** Class indices (int32) for classification, 0/1 for binary, normalised values for regression. */
  values: tf.Tensor1D;
  /** 1 where the sample has a label for this head, else 0. */
  mask: tf.Tensor1D;
}

/** A head with the settings its loss needs. */
export interface LossHead extends HeadSpec {
  loss?: RegressionLoss;
  huberDelta?: number;
}

export type LossWeighting =
  | { kind: 'fixed' }
  /** Kendall, Gal and Cipolla (2018): one learned log-variance s per head. */
  | { kind: 'uncertainty'; logVariances: Record<string, tf.Variable> };

/** Per-sample loss of one head, shape [batch], before masking. */
export function perSampleLoss(head: LossHead, output: tf.Tensor, values: tf.Tensor1D): tf.Tensor1D {
  switch (head.kind) {
    case 'classification': {
      const units = output.shape[1] ?? 1;
      const logProbabilities = tf.logSoftmax(output as tf.Tensor2D);
      const oneHot = tf.oneHot(values.toInt(), units).toFloat();
      return tf.neg(tf.sum(tf.mul(oneHot, logProbabilities), 1)) as tf.Tensor1D;
    }
    case 'binary': {
      // Stable sigmoid cross-entropy on logits: max(x, 0) - x * z + log(1 + exp(-|x|)).
      const logits = output.reshape([-1]);
      const z = values.toFloat();
      return tf.add(tf.sub(tf.relu(logits), tf.mul(logits, z)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))) as tf.Tensor1D;
    }
    case 'regression': {
      const difference = tf.sub(output.reshape([-1]), values.toFloat());
      if ((head.loss ?? 'huber') === 'mse') return tf.square(difference) as tf.Tensor1D;
      // Huber: 0.5 * q^2 + delta * (|d| - q) with q = min(|d|, delta).
      const delta = head.huberDelta ?? 1;
      const absolute = tf.abs(difference);
      const quadratic = tf.minimum(absolute, delta);
      return tf.add(tf.mul(0.5, tf.square(quadratic)), tf.mul(delta, tf.sub(absolute, quadratic))) as tf.Tensor1D;
    }
  }
}

/**
 * Mean loss over the samples that have a label. A batch without any label for the head gives 0
 * and a zero gradient, never NaN, because the denominator is at least 1.
 */
export function maskedHeadLoss(head: LossHead, output: tf.Tensor, targets: HeadTargets): tf.Scalar {
  const losses = perSampleLoss(head, output, targets.values);
  const total = tf.sum(tf.mul(losses, targets.mask));
  return tf.div(total, tf.maximum(tf.sum(targets.mask), 1)) as tf.Scalar;
}

export interface MultiTaskLoss {
  total: tf.Scalar;
  /** Unweighted masked loss per head, in the order of the heads. */
  perHead: tf.Scalar[];
}

/**
 * Combines head losses as `sum over primary heads of w_i * L_i + lambda * sum over auxiliary heads
 * of w_j * L_j`. With uncertainty weighting, each `w * L` becomes `c * exp(-s) * L + s / 2` with
 * c = 1/2 for regression and 1 otherwise; the term is dropped for a head without labels in the
 * batch, so s is not pushed down by batches that cannot inform it.
 */
export function multiTaskLoss(
  heads: LossHead[],
  outputs: tf.Tensor[],
  targets: Record<string, HeadTargets>,
  weighting: LossWeighting,
  auxiliaryLambda: number,
): MultiTaskLoss {
  const perHead: tf.Scalar[] = [];
  const terms: tf.Scalar[] = [];
  heads.forEach((head, index) => {
    const output = outputs[index];
    const target = targets[head.name];
    if (output === undefined || target === undefined) {
      throw new Error(`Head '${head.name}' has no ${output === undefined ? 'model output' : 'targets'} in this batch.`);
    }
    const loss = maskedHeadLoss(head, output, target);
    perHead.push(loss);
    const roleFactor = head.role === 'auxiliary' ? auxiliaryLambda : 1;
    if (weighting.kind === 'fixed') {
      terms.push(tf.mul(loss, roleFactor * head.weight));
      return;
    }
    const logVariance = weighting.logVariances[head.name];
    if (logVariance === undefined) throw new Error(`Uncertainty weighting has no log-variance for head '${head.name}'.`);
    const precisionFactor = head.kind === 'regression' ? 0.5 : 1;
    const present = tf.minimum(tf.sum(target.mask), 1);
    const term = tf.add(tf.mul(tf.mul(tf.exp(tf.neg(logVariance)), precisionFactor), loss), tf.mul(0.5, logVariance));
    terms.push(tf.mul(tf.mul(term, present), roleFactor).reshape([]) as tf.Scalar);
  });
  const total = terms.length === 1 ? (terms[0] as tf.Scalar) : (tf.addN(terms) as tf.Scalar);
  return { total, perHead };
}

/** Creates one trainable log-variance per head, starting at 0 (weight 1). */
export function createLogVariances(heads: HeadSpec[]): Record<string, tf.Variable> {
  const variables: Record<string, tf.Variable> = {};
  // Unnamed, because tfjs variable names must be unique in the process and several models may train in one.
  for (const head of heads) variables[head.name] = tf.variable(tf.scalar(0), true);
  return variables;
}
