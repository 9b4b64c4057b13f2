import * as tf from '@tensorflow/tfjs';
import { seededRandom, type HeadSpec, type InputSpec } from '@fieldloop/contracts';
import { augmentInputs, isAugmentOff, validateAugmentConfig, type AugmentConfig } from './augment-inputs.ts';
import { scheduledLearningRate, ScheduledAdam, type LearningRateSchedule } from './learning-rate-schedule.ts';
import { headKdLoss, hintLoss, type KdLossOptions } from './kd-loss.ts';

/**
 * One training batch. `inputs` is NHWC float32, normalised with the model card's InputSpec.
 * Per head, `labels` contains the class index (classification), 0 or 1 (binary) or the normalised
 * value (regression) per sample. `masks` contains 1 where the sample has that label and 0 where it
 * does not. A head missing from `labels` counts as unlabelled for the whole batch.
 */
export interface DistillBatch {
  inputs: tf.Tensor4D;
  labels: Record<string, tf.Tensor1D>;
  masks: Record<string, tf.Tensor1D>;
}

export interface DistillOptions extends KdLossOptions {
  heads: HeadSpec[];
  epochs: number;
  learningRate?: number;
  /**
   * Weight of the distillation term for regression heads, in place of `alpha`. Default `alpha`.
   * A regression head's distillation term pulls towards the teacher's value and a classification
   * head's towards its softened distribution, so the two can call for different weights.
   */
  regressionAlpha?: number;
  /** How the learning rate changes over the epochs. Default `constant`. */
  learningRateSchedule?: LearningRateSchedule;
  /** Optional feature hint: names of a teacher and a student layer with equal output shapes. */
  hint?: { teacherLayer: string; studentLayer: string; weight: number };
  /**
   * Augmentation applied to each batch before the teacher and the student see it, with the
   * InputSpec that normalised the inputs and the seed of its random draws. Off when absent.
   */
  augment?: { config: AugmentConfig; input: InputSpec; seed: number };
  /** Called after each epoch with its mean loss. */
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface DistillResult {
  epochLosses: number[];
}

function outputsByName(model: tf.LayersModel, outputs: tf.Tensor | tf.Tensor[]): Map<string, tf.Tensor2D> {
  const list = Array.isArray(outputs) ? outputs : [outputs];
  return new Map(list.map((tensor, i) => [model.outputLayers[i]!.name, tensor as tf.Tensor2D]));
}

function featureModel(model: tf.LayersModel, layerName: string): tf.LayersModel {
  const layer = model.getLayer(layerName);
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
}

/**
 * Trains `student` to match `teacher` with Adam over `batches()` for `options.epochs` epochs. The
 * loss is the sum over heads of `weight · headKdLoss`, plus the hint term when configured. The
 * caller owns the batch tensors; this function keeps no tensor alive between steps.
 */
export async function distill(
  teacher: tf.LayersModel,
  student: tf.LayersModel,
  batches: () => Iterable<DistillBatch> | AsyncIterable<DistillBatch>,
  options: DistillOptions,
): Promise<DistillResult> {
  for (const head of options.heads) {
    if (!teacher.outputNames.includes(head.name)) {
      throw new Error(`Teacher has no output '${head.name}'; its outputs are ${teacher.outputNames.join(', ')}.`);
    }
    if (!student.outputNames.includes(head.name)) {
      throw new Error(`Student has no output '${head.name}'; build it from the same heads as the teacher.`);
    }
  }
  for (const [name, share] of [['alpha', options.alpha], ['regressionAlpha', options.regressionAlpha ?? options.alpha]] as const) {
    if (!(share >= 0 && share <= 1)) throw new Error(`Distillation ${name} must be in [0, 1]; got ${share}.`);
  }
  const headOptions = (head: HeadSpec): KdLossOptions =>
    head.kind === 'regression' && options.regressionAlpha !== undefined ? { temperature: options.temperature, alpha: options.regressionAlpha } : options;
  const baseRate = options.learningRate ?? 1e-3;
  const optimizer = new ScheduledAdam(baseRate);
  const teacherFeatures = options.hint ? featureModel(teacher, options.hint.teacherLayer) : undefined;
  // With a hint, one model returns the head outputs and the hint feature, so each step runs the
  // student (and updates its batch-norm statistics) once.
  const trained = options.hint
    ? tf.model({ inputs: student.inputs, outputs: [...student.outputs, student.getLayer(options.hint.studentLayer).output as tf.SymbolicTensor] })
    : student;
  const epochLosses: number[] = [];
  const augment = options.augment !== undefined && !isAugmentOff(options.augment.config) ? options.augment : undefined;
  if (augment !== undefined) validateAugmentConfig(augment.config);
  const random = seededRandom(augment?.seed ?? 1);

  for (let epoch = 0; epoch < options.epochs; epoch++) {
    optimizer.setLearningRate(scheduledLearningRate(baseRate, options.learningRateSchedule ?? 'constant', epoch, options.epochs));
    let sum = 0;
    let count = 0;
    for await (const source of batches()) {
      const batch = augment === undefined ? source : { ...source, inputs: augmentInputs(source.inputs, augment.input, augment.config, random) };
      // predict() runs without gradient tape entries for the student's minimize() call.
      const teacherOutputs = outputsByName(teacher, teacher.predict(batch.inputs) as tf.Tensor | tf.Tensor[]);
      const teacherFeature = teacherFeatures ? tf.tidy(() => teacherFeatures.predict(batch.inputs) as tf.Tensor) : undefined;
      const batchSize = batch.inputs.shape[0];
      const cost = optimizer.minimize(() => {
        const raw = trained.apply(batch.inputs, { training: true }) as tf.Tensor | tf.Tensor[];
        const list = Array.isArray(raw) ? raw : [raw];
        const studentOutputs = outputsByName(student, list.slice(0, student.outputs.length));
        const studentFeature = options.hint ? list[student.outputs.length] : undefined;
        let total: tf.Scalar = tf.scalar(0);
        for (const head of options.heads) {
          const labels = batch.labels[head.name] ?? tf.zeros([batchSize]);
          const mask = batch.labels[head.name] === undefined ? tf.zeros([batchSize]) : (batch.masks[head.name] ?? tf.ones([batchSize]));
          const loss = headKdLoss(head, studentOutputs.get(head.name)!, teacherOutputs.get(head.name)!, labels as tf.Tensor1D, mask as tf.Tensor1D, headOptions(head));
          total = tf.add(total, tf.mul(loss, head.weight));
        }
        if (studentFeature && teacherFeature && options.hint) {
          total = tf.add(total, tf.mul(hintLoss(studentFeature, teacherFeature), options.hint.weight));
        }
        return total;
      }, true);
      sum += (await cost!.data())[0]!;
      count++;
      // A macrotask turn per batch lets timers and sockets of the same process run, such as MQTT keepalives.
      await new Promise<void>((resolve) => setImmediate(resolve));
      cost!.dispose();
      for (const tensor of teacherOutputs.values()) tensor.dispose();
      teacherFeature?.dispose();
      if (batch !== source) batch.inputs.dispose();
    }
    if (count === 0) throw new Error('Distillation got no batches; check the data set snapshot and split.');
    const mean = sum / count;
    epochLosses.push(mean);
    options.onEpoch?.(epoch, mean);
  }
  optimizer.dispose();
  return { epochLosses };
}
