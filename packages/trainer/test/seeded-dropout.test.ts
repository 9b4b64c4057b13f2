import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../src/backend/select-backend.ts';
import { SeededDropout, setDropoutStep } from '../src/model/seeded-dropout.ts';

function dropoutModel(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [64] });
  const output = new SeededDropout({ name: 'dropout', rate: 0.5, seed }).apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

function trainingOutput(model: tf.LayersModel, step: number): number[] {
  setDropoutStep(model, step);
  return tf.tidy(() => Array.from((model.apply(tf.ones([4, 64]), { training: true }) as tf.Tensor).dataSync()));
}

describe('SeededDropout', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('draws the same mask for the same seed and step', () => {
    expect(trainingOutput(dropoutModel(7), 3)).toEqual(trainingOutput(dropoutModel(7), 3));
  });

  it('draws another mask at another step', () => {
    const model = dropoutModel(7);
    expect(trainingOutput(model, 4)).not.toEqual(trainingOutput(model, 3));
  });

  it('zeroes about the rate and scales the rest', () => {
    const values = trainingOutput(dropoutModel(11), 0);
    const kept = values.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([2]));
    expect(kept.length / values.length).toBeGreaterThan(0.35);
    expect(kept.length / values.length).toBeLessThan(0.65);
  });

  it('passes the input on outside training', () => {
    const model = dropoutModel(7);
    const output = tf.tidy(() => Array.from((model.predict(tf.ones([2, 64])) as tf.Tensor).dataSync()));
    expect(output).toEqual(new Array<number>(128).fill(1));
  });

  it('survives a save and load with its seed', async () => {
    const model = dropoutModel(9);
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    expect(loaded.layers.some((layer) => layer instanceof SeededDropout)).toBe(true);
    expect(trainingOutput(loaded, 5)).toEqual(trainingOutput(model, 5));
  });

  it('rejects a rate outside [0, 1)', () => {
    expect(() => new SeededDropout({ rate: 1, seed: 1 })).toThrow(/rate must be in \[0, 1\), got 1/);
  });
});
