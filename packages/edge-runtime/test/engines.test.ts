import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findSharedData } from '@fieldloop/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelFiles } from '../src/bundle/bundle-files.ts';
import { verifyBundle } from '../src/bundle/verify-bundle.ts';
import { generateSigningKeyPair, parsePrivateKey, trustedKeysFrom } from '../src/bundle/signing-keys.ts';
import { defaultEngines } from '../src/engines/default-engines.ts';
import { LiteRtEngine } from '../src/engines/litert-engine.ts';
import { NoEngineError, selectEngine } from '../src/engines/select-engine.ts';
import { TfjsEngine } from '../src/engines/tfjs-engine.ts';
import { TfjsTfliteEngine } from '../src/engines/tfjs-tflite-engine.ts';
import { useTfjsBackend } from '../src/engines/tfjs-backend.ts';
import { buildTwoHeadModel, tempDir, writeTfjsBundle } from './helpers/tiny-models.ts';
import { memoryLog } from './helpers/test-log.ts';

const shared = findSharedData();
const models = shared ? join(shared, 'models') : null;
if (!models) console.warn('shared data not found: skipping the third-party TFLite model tests');

async function tflite(name: string): Promise<Extract<ModelFiles, { format: 'tflite' }>> {
  return { format: 'tflite', bytes: new Uint8Array(await readFile(join(models!, name))) };
}

describe('tfjs engines', () => {
  let root: Awaited<ReturnType<typeof tempDir>>;
  let files: ModelFiles;
  let expected: Float32Array[];

  beforeAll(async () => {
    root = await tempDir('engines');
    const pair = generateSigningKeyPair();
    const tf = await useTfjsBackend('cpu');
    const model = buildTwoHeadModel({ seed: 3 });
    const outputs = model.predict(tf.fill([1, 8, 8, 3], 0.5)) as import('@tensorflow/tfjs').Tensor[];
    expected = outputs.map((output) => output.dataSync() as Float32Array);
    await writeTfjsBundle(model, join(root.path, 'b'), 1, parsePrivateKey(pair.privateKeyPem));
    files = (await verifyBundle(join(root.path, 'b'), trustedKeysFrom([pair.publicKeyPem]))).model;
  });
  afterAll(() => root.remove());

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`tfjs-${backend} matches the saved model`, async () => {
      const loaded = await new TfjsEngine(backend).load(files);
      const outputs = await loaded.run(new Float32Array(8 * 8 * 3).fill(0.5));
      loaded.dispose();
      expect(outputs.length).toBe(2);
      expect(Array.from(outputs[0]!)).toEqual(Array.from(expected[0]!).map((v) => expect.closeTo(v, 4)));
      expect(outputs[1]![0]).toBeCloseTo(expected[1]![0]!, 4);
    });
  }

  it('tfjs engine leaves no tensors behind', async () => {
    const loaded = await new TfjsEngine('wasm').load(files);
    const input = new Float32Array(8 * 8 * 3);
    await loaded.run(input);
    const before = loaded.liveTensors();
    for (let i = 0; i < 20; i += 1) await loaded.run(input);
    expect(loaded.liveTensors()).toBe(before);
    loaded.dispose();
  });

  it('selectEngine skips engines of other formats', async () => {
    const { model, trials } = await selectEngine(files, await defaultEngines(), { timedRuns: 2 });
    model.dispose();
    expect(trials.map((trial) => trial.engine).sort()).toEqual(['tfjs-cpu', 'tfjs-wasm']);
  });

  it('selectEngine logs its choice and why', async () => {
    const log = memoryLog();
    const { model } = await selectEngine(files, await defaultEngines(), { timedRuns: 2, log });
    model.dispose();
    const line = log.lines.find((item) => item.level === 'info');
    expect(line?.message).toMatch(new RegExp(`^using engine ${model.engine}: fastest of tfjs-wasm [0-9.]+ ms, tfjs-cpu [0-9.]+ ms$`));
  });
});

describe.skipIf(!models)('third-party TFLite models', () => {
  it('hello_world float gives sin(x) on tfjs-tflite', async () => {
    const loaded = await new TfjsTfliteEngine().load(await tflite('hello_world_float.tflite'));
    for (const x of [0, 1, 3, 5]) {
      const [output] = await loaded.run(new Float32Array([x]));
      expect(Math.abs(output![0]! - Math.sin(x))).toBeLessThan(0.05);
    }
  });

  it('hello_world int8 gives sin(x) on tfjs-tflite', async () => {
    const loaded = await new TfjsTfliteEngine().load(await tflite('hello_world_int8.tflite'));
    const cases: [number, number][] = [[0.77, -96], [1.57, -63], [2.3, -34], [3.14, 0]];
    for (const [x, quantized] of cases) {
      const [output] = await loaded.run(new Int8Array([quantized]));
      const value = (output![0]! - 5) * 0.00829096;
      expect(Math.abs(value - Math.sin(x))).toBeLessThan(0.05);
    }
  });

  it('litert rejects int8 inputs by name', async () => {
    const files = await tflite('hello_world_int8.tflite');
    const loadAndRun = async (): Promise<void> => {
      const loaded = await new LiteRtEngine().load(files);
      await loaded.run(new Int8Array([0]));
    };
    await expect(loadAndRun()).rejects.toThrow(/INT8 is not supported/);
  });

  it('selectEngine falls back to tfjs-tflite for int8', async () => {
    const { model, trials } = await selectEngine(await tflite('hello_world_int8.tflite'), await defaultEngines(), { timedRuns: 2 });
    expect(model.engine).toBe('tfjs-tflite');
    expect(trials.find((trial) => trial.engine === 'litert')?.error).toMatch(/INT8 is not supported/);
    const [output] = await model.run(new Int8Array([-63]));
    expect(Math.abs((output![0]! - 5) * 0.00829096 - Math.sin(1.57))).toBeLessThan(0.05);
  });

  it('person_detect is rejected naming each engine', async () => {
    const error = await selectEngine(await tflite('person_detect.tflite'), await defaultEngines(), { timedRuns: 1 }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(NoEngineError);
    const message = (error as NoEngineError).message;
    expect(message).toMatch(/litert: /);
    expect(message).toMatch(/tfjs-tflite: /);
    expect(message).toMatch(/quantized_dimension must be in range/);
  });
});

describe.skipIf(!models)('litert engine', () => {
  it('runs hello_world with a dynamic batch', async () => {
    const files = await tflite('hello_world_float.tflite');
    const loaded = await new LiteRtEngine().load(files);
    expect(loaded.inputs[0]?.shape).toEqual([1, 1]);
    for (const x of [0, 1, 3, 5]) {
      const [output] = await loaded.run(new Float32Array([x]));
      expect(Math.abs(output![0]! - Math.sin(x))).toBeLessThan(0.05);
    }
    expect(loaded.liveTensors()).toBe(0);
    loaded.dispose();
  });
});
