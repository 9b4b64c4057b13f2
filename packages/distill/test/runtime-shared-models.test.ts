import path from 'node:path';
import { findSharedData } from '@fieldloop/contracts';
import { describe, expect, it } from 'vitest';
import { loadTfliteModel, TfliteEngineUnsupportedError, TfliteMicroOnlyError } from '../src/index.ts';

const shared = findSharedData();
const models = shared === null ? '' : path.join(shared, 'models');
if (shared === null) console.warn('shared data not found: skipping runtime tests on the published TFLite models');

describe.skipIf(shared === null)('loadTfliteModel on published models', () => {
  for (const engine of ['litert', 'tfjs-tflite'] as const) {
    it(`hello_world float on ${engine}`, async () => {
      const model = await loadTfliteModel(path.join(models, 'hello_world_float.tflite'), engine);
      for (const x of [0, 1, 3, 5]) {
        const out = await model.run({ [model.inputs[0]!.name]: new Float32Array([x]) });
        const y = Object.values(out)[0]![0]!;
        expect(Math.abs(y - Math.sin(x))).toBeLessThan(0.05);
      }
      model.close();
    });
  }

  it('hello_world int8 on tfjs-tflite', async () => {
    const model = await loadTfliteModel(path.join(models, 'hello_world_int8.tflite'), 'tfjs-tflite');
    expect(model.inputs[0]!.dtype).toBe('int8');
    const inputScale = 0.0244801;
    const outputScale = 0.00829096;
    for (const x of [0.77, 1.57, 2.3, 3.14]) {
      const q = Math.round(x / inputScale - 128);
      const out = await model.run({ [model.inputs[0]!.name]: new Int8Array([q]) });
      const y = (Object.values(out)[0]![0]! - 5) * outputScale;
      expect(Math.abs(y - Math.sin(x))).toBeLessThan(0.05);
    }
  });

  it('hello_world int8 rejected by litert', async () => {
    await expect(loadTfliteModel(path.join(models, 'hello_world_int8.tflite'), 'litert')).rejects.toThrow(TfliteEngineUnsupportedError);
  });

  for (const engine of ['litert', 'tfjs-tflite'] as const) {
    it(`person_detect rejected by ${engine}`, async () => {
      const load = loadTfliteModel(path.join(models, 'person_detect.tflite'), engine);
      await expect(load).rejects.toThrow(TfliteMicroOnlyError);
      await expect(load).rejects.toThrow(/Microcontrollers.*quantized_dimension 3/);
    });
  }
});
