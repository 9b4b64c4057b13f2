import * as tf from '@tensorflow/tfjs';

/** `constant` keeps the base rate; `cosine` decays it from the base rate towards 0 over the epochs. */
export type LearningRateSchedule = 'constant' | 'cosine';

export const LEARNING_RATE_SCHEDULES: readonly LearningRateSchedule[] = ['constant', 'cosine'];

/**
 * Returns the learning rate of epoch `epoch` (0-based) of `epochs`. The cosine schedule gives
 * `base · (1 + cos(π · epoch / epochs)) / 2`, so the first epoch trains at the base rate and the
 * last at a small share of it.
 */
export function scheduledLearningRate(base: number, schedule: LearningRateSchedule, epoch: number, epochs: number): number {
  if (schedule === 'constant' || epochs <= 1) return base;
  return (base * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
}

/** Adam whose learning rate can change between steps while its moment estimates are kept. */
export class ScheduledAdam extends tf.AdamOptimizer {
  constructor(learningRate: number) {
    // The tfjs defaults of `tf.train.adam`: beta1 0.9, beta2 0.999, epsilon from the backend.
    super(learningRate, 0.9, 0.999);
  }

  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }
}
