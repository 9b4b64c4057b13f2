import * as tf from '@tensorflow/tfjs';

export interface SeededDropoutConfig {
  name?: string;
  /** Share of units set to zero during training, in [0, 1). */
  rate: number;
  /** Seed of the masks; the mask of a training step depends on this seed and the step only. */
  seed: number;
}

/**
 * Dropout whose mask is a function of its seed and the training step, so two runs of the same
 * config, or a run and its resumption from a checkpoint, draw the same masks. tfjs's own dropout
 * takes its masks from `Math.random`, or, when seeded, draws the same mask at every step. The
 * training loop sets `step` before each batch. Outside training the layer passes its input on.
 */
export class SeededDropout extends tf.layers.Layer {
  static readonly className = 'FieldloopSeededDropout';
  readonly rate: number;
  readonly seed: number;
  /** The training step whose mask the next training call draws. */
  step = 0;

  constructor(config: SeededDropoutConfig) {
    super(config.name === undefined ? {} : { name: config.name });
    if (!(config.rate >= 0 && config.rate < 1)) throw new Error(`SeededDropout rate must be in [0, 1), got ${config.rate}`);
    this.rate = config.rate;
    this.seed = config.seed;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (input === undefined) throw new Error(`SeededDropout ${this.name} got no input tensor`);
    if (kwargs.training !== true || this.rate === 0) return input;
    const keep = 1 - this.rate;
    return tf.tidy(() => {
      const mask = tf.randomUniform(input.shape, 0, 1, 'float32', this.seed * 1_000_003 + this.step).greaterEqual(this.rate);
      return tf.mul(input, tf.div(tf.cast(mask, 'float32'), keep));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

tf.serialization.registerClass(SeededDropout);

/** Sets the training step of every seeded dropout layer of `model`; call it before each batch. */
export function setDropoutStep(model: tf.LayersModel, step: number): void {
  for (const layer of model.layers) if (layer instanceof SeededDropout) layer.step = step;
}
