import { parseTeacherConfig, type TeacherConfig } from '../../src/model/teacher-config.ts';

/** A teacher small enough to train on 16x16 synthetic images in seconds. */
export function tinyConfig(overrides: { epochs?: number; weighting?: 'fixed' | 'uncertainty'; block?: 'residual' | 'inverted-residual'; dropout?: number } = {}): TeacherConfig {
  return parseTeacherConfig({
    input: { width: 16, height: 16 },
    backbone: { block: overrides.block ?? 'residual', dropout: overrides.dropout ?? 0, stemChannels: 8, stages: [{ channels: 8, blocks: 1, stride: 1 }, { channels: 16, blocks: 1, stride: 2 }] },
    heads: [
      { name: 'steering', kind: 'regression', role: 'primary', weight: 1, loss: 'huber', flip: 'negate' },
      { name: 'sign', kind: 'classification', role: 'primary', weight: 1, flip: 'forbid' },
    ],
    loss: { weighting: overrides.weighting ?? 'fixed' },
    training: { epochs: overrides.epochs ?? 3, batchSize: 16, learningRate: 0.005, warmupEpochs: 0.5, patience: 0, augment: { crop: 0.05, noise: 1 } },
  });
}
