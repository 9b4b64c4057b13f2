import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CliContext, HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStudent, exportCommand, loadTfliteModel } from '../src/index.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const context: CliContext = { log: silent, progress: () => ({ update() {}, stop() {} }) };

const heads: HeadSpec[] = [{ name: 'steering', kind: 'regression', role: 'primary', weight: 1, normalization: { mean: 0, std: 1 } }];
const input: InputSpec = { width: 8, height: 8, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

async function saveModelDir(): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'distill-model-'));
  const model = buildStudent(heads, input, { widthMultiplier: 0.25 });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      writeFileSync(
        path.join(dir, 'model.json'),
        JSON.stringify({ modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  writeFileSync(path.join(dir, 'model-card.json'), JSON.stringify({ heads, input }));
  return dir;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('exportCommand', () => {
  it('writes float32 file', async () => {
    const dir = await saveModelDir();
    const out = path.join(dir, 'out', 'student.tflite');
    const result = await exportCommand.run([], { model: dir, out }, context);
    expect(result.exitCode).toBe(0);
    const model = await loadTfliteModel(out, 'litert');
    expect(model.outputs.map((o) => o.name)).toEqual(['steering']);
  });

  it('int8 without store rejected', async () => {
    const dir = await saveModelDir();
    const out = path.join(dir, 'student.tflite');
    const result = await exportCommand.run([], { model: dir, out, int8: true }, context);
    expect(result.exitCode).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('missing model card named', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'distill-empty-'));
    await expect(exportCommand.run([], { model: dir, out: path.join(dir, 'x.tflite') }, context)).rejects.toThrow(/model\.json/);
  });
});
