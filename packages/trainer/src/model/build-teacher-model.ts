import type { HeadSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { SeededDropout } from './seeded-dropout.ts';
import type { BackboneConfig, TeacherConfig } from './teacher-config.ts';

/** Number of outputs a head needs: one logit per class, one logit for binary, one value for regression. */
export function headUnits(head: HeadSpec): number {
  if (head.kind !== 'classification') return 1;
  const count = head.classes?.length ?? 0;
  if (count < 2) {
    throw new Error(`Classification head '${head.name}' needs at least 2 classes, got ${count}. Check the snapshot's labels for it.`);
  }
  return count;
}

/** Deterministic initializer seeds: each layer gets the next integer after the config's seed. */
class SeedSequence {
  private next: number;
  constructor(seed: number) {
    this.next = seed * 1000 + 1;
  }
  heNormal(): ReturnType<typeof tf.initializers.heNormal> {
    return tf.initializers.heNormal({ seed: this.next++ });
  }
  glorotUniform(): ReturnType<typeof tf.initializers.heNormal> {
    return tf.initializers.glorotUniform({ seed: this.next++ });
  }
  dropoutSeed(): number {
    return this.next++;
  }
}

function scaled(channels: number, width: number): number {
  return Math.max(4, Math.round(channels * width));
}

/**
 * Moving-average momentum of BatchNorm statistics. The Keras default of 0.99 leaves a third of the
 * initial statistics in place after 100 steps, which short runs on small data never outgrow.
 */
const BATCH_NORM_MOMENTUM = 0.9;

function convBn(
  x: tf.SymbolicTensor,
  name: string,
  filters: number,
  kernelSize: number,
  strides: number,
  seeds: SeedSequence,
): tf.SymbolicTensor {
  const conv = tf.layers
    .conv2d({ name: `${name}_conv`, filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: seeds.heNormal() })
    .apply(x) as tf.SymbolicTensor;
  return tf.layers.batchNormalization({ name: `${name}_bn`, momentum: BATCH_NORM_MOMENTUM }).apply(conv) as tf.SymbolicTensor;
}

function relu(x: tf.SymbolicTensor, name: string, max?: number): tf.SymbolicTensor {
  const options = max === undefined ? { name } : { name, maxValue: max };
  return tf.layers.reLU(options).apply(x) as tf.SymbolicTensor;
}

function residualBlock(x: tf.SymbolicTensor, name: string, filters: number, stride: number, seeds: SeedSequence): tf.SymbolicTensor {
  const inChannels = x.shape[3];
  let y = relu(convBn(x, `${name}_a`, filters, 3, stride, seeds), `${name}_a_relu`);
  y = convBn(y, `${name}_b`, filters, 3, 1, seeds);
  const shortcut = stride !== 1 || inChannels !== filters ? convBn(x, `${name}_proj`, filters, 1, stride, seeds) : x;
  const sum = tf.layers.add({ name: `${name}_add` }).apply([y, shortcut]) as tf.SymbolicTensor;
  return relu(sum, `${name}_relu`);
}

function invertedResidualBlock(
  x: tf.SymbolicTensor,
  name: string,
  filters: number,
  stride: number,
  expansion: number,
  seeds: SeedSequence,
): tf.SymbolicTensor {
  const inChannels = x.shape[3] ?? filters;
  let y = relu(convBn(x, `${name}_expand`, inChannels * expansion, 1, 1, seeds), `${name}_expand_relu6`, 6);
  y = tf.layers
    .depthwiseConv2d({ name: `${name}_dw`, kernelSize: 3, strides: stride, padding: 'same', useBias: false, depthwiseInitializer: seeds.heNormal() })
    .apply(y) as tf.SymbolicTensor;
  const dwNormalized = tf.layers.batchNormalization({ name: `${name}_dw_bn`, momentum: BATCH_NORM_MOMENTUM }).apply(y) as tf.SymbolicTensor;
  y = relu(dwNormalized, `${name}_dw_relu6`, 6);
  y = convBn(y, `${name}_project`, filters, 1, 1, seeds);
  if (stride === 1 && inChannels === filters) y = tf.layers.add({ name: `${name}_add` }).apply([y, x]) as tf.SymbolicTensor;
  return y;
}

function buildBackbone(input: tf.SymbolicTensor, backbone: BackboneConfig, seeds: SeedSequence): tf.SymbolicTensor {
  let x = relu(convBn(input, 'stem', scaled(backbone.stemChannels, backbone.width), 3, 2, seeds), 'stem_relu');
  backbone.stages.forEach((stage, stageIndex) => {
    const filters = scaled(stage.channels, backbone.width);
    for (let block = 0; block < stage.blocks; block++) {
      const name = `stage${stageIndex + 1}_block${block + 1}`;
      const stride = block === 0 ? stage.stride : 1;
      x =
        backbone.block === 'residual'
          ? residualBlock(x, name, filters, stride, seeds)
          : invertedResidualBlock(x, name, filters, stride, backbone.expansion, seeds);
    }
  });
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  if (backbone.dropout > 0) x = new SeededDropout({ name: 'dropout', rate: backbone.dropout, seed: seeds.dropoutSeed() }).apply(x) as tf.SymbolicTensor;
  return x;
}

/**
 * Builds the teacher: a shared backbone and one dense output per head, named after the head, in
 * the order of `heads`. Outputs are logits for classification and binary heads and normalised
 * values for regression heads.
 */
export function buildTeacherModel(config: TeacherConfig, heads: HeadSpec[]): tf.LayersModel {
  const seeds = new SeedSequence(config.training.seed);
  const input = tf.input({ name: 'image', shape: [config.input.height, config.input.width, 3] });
  const features = buildBackbone(input, config.backbone, seeds);
  const outputs = heads.map(
    (head) =>
      tf.layers
        .dense({ name: head.name, units: headUnits(head), kernelInitializer: seeds.glorotUniform() })
        .apply(features) as tf.SymbolicTensor,
  );
  return tf.model({ name: 'teacher', inputs: input, outputs });
}
