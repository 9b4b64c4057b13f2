import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HeadSpec } from '@fieldloop/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair, parsePrivateKey, trustedKeysFrom } from '../src/bundle/signing-keys.ts';
import { decodeHead, mapHeadsToOutputs, type HeadPrediction } from '../src/inference/decode-outputs.ts';
import { EdgeRuntime } from '../src/inference/edge-runtime.ts';
import { normalizeRgb } from '../src/inference/preprocess.ts';
import { Predictor } from '../src/inference/predictor.ts';
import { MemorySink } from '../src/outputs/prediction-sink.ts';
import type { Frame, FrameSource } from '../src/sources/frame-source.ts';
import { ImageFolderSource } from '../src/sources/image-folder-source.ts';
import { INPUT, buildTwoHeadModel, tempDir, writeTfjsBundle } from './helpers/tiny-models.ts';
import { solidPng, writeFrameFolder } from './helpers/images.ts';
import { memoryLog } from './helpers/test-log.ts';

const pair = generateSigningKeyPair();
const trusted = trustedKeysFrom([pair.publicKeyPem]);
let root: Awaited<ReturnType<typeof tempDir>>;
let predictor: Predictor;

beforeAll(async () => {
  root = await tempDir('inference');
  await writeTfjsBundle(buildTwoHeadModel({ seed: 5 }), join(root.path, 'b1'), 1, parsePrivateKey(pair.privateKeyPem));
  predictor = await Predictor.load(join(root.path, 'b1'), { trustedKeys: trusted, timedRuns: 2 });
});
afterAll(async () => {
  predictor.dispose();
  await root.remove();
});

describe('decodeHead', () => {
  const sign: HeadSpec = { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: ['a', 'b', 'c'] };
  const classesOf = (head: HeadPrediction) => {
    if (head.kind === 'regression') throw new Error(`expected a class head, got ${head.kind}`);
    return head;
  };
  it('applies softmax to logits', () => {
    const head = classesOf(decodeHead(sign, new Float32Array([0, 0, Math.log(2)])));
    expect(head.label).toBe('c');
    expect(head.confidence).toBeCloseTo(0.5, 6);
  });
  it('keeps probability vectors as they are', () => {
    const head = classesOf(decodeHead(sign, new Float32Array([0.2, 0.7, 0.1])));
    expect(head.confidence).toBeCloseTo(0.7, 6);
    expect(head.margin).toBeCloseTo(0.5, 6);
  });
  it('gives binary heads a sigmoid', () => {
    const head = classesOf(decodeHead({ name: 'p', kind: 'binary', role: 'primary', weight: 1, classes: ['no', 'yes'] }, new Float32Array([0])));
    expect(head.probabilities.yes).toBeCloseTo(0.5, 6);
  });
  it('de-normalises regression values', () => {
    const head = decodeHead({ name: 's', kind: 'regression', role: 'primary', weight: 1, normalization: { mean: 90, std: 10 } }, new Float32Array([-0.5]));
    expect(head.kind).toBe('regression');
    expect(head.kind === 'regression' ? head.value : Number.NaN).toBeCloseTo(85, 5);
  });
  it('rejects a class count mismatch', () => {
    expect(() => decodeHead(sign, new Float32Array([1, 2]))).toThrow(/3 class names but the model outputs 2/);
  });
  it('reports unmatched outputs', () => {
    const outputs = [{ name: 'x', shape: [1], dtype: 'float32' as const }];
    expect(() => mapHeadsToOutputs([sign, sign], outputs)).toThrow(/do not match heads/);
  });
});

describe('normalizeRgb', () => {
  it('applies mean and std per channel', () => {
    const rgb = new Uint8Array(8 * 8 * 3).fill(255);
    expect(normalizeRgb(rgb, INPUT)[0]).toBeCloseTo(2, 6);
  });
  it('rejects a wrong size', () => {
    expect(() => normalizeRgb(new Uint8Array(5), INPUT)).toThrow(/needs 192/);
  });
});

describe('Predictor', () => {
  it('decodes both heads', async () => {
    const prediction = await predictor.predictImage({ kind: 'encoded', bytes: await solidPng(20, 10, [200, 10, 30]) }, 'test');
    const sign = prediction.heads.sign;
    expect(sign?.kind).toBe('classification');
    expect(['stop', 'yield', 'speed']).toContain(sign?.kind === 'classification' ? sign.label : null);
    expect(prediction.heads.steering?.kind).toBe('regression');
    expect(prediction.model.version).toBe(1);
  });
});

describe('EdgeRuntime', () => {
  it('answers every frame of a folder', async () => {
    const dir = join(root.path, 'frames');
    await writeFrameFolder(dir, 6);
    await writeFile(join(dir, 'frame-9.png'), 'not an image');
    const sink = new MemorySink();
    const runtime = new EdgeRuntime({ robot: 'r1', log: memoryLog(), output: sink });
    runtime.setActive(predictor);
    await runtime.run(new ImageFolderSource(dir), new AbortController().signal);
    const metrics = runtime.metrics.snapshot();
    expect(sink.records.length).toBe(6);
    expect(metrics.malformed).toBe(1);
    expect(metrics.latencyP99Ms).toBeGreaterThan(0);
  });

  it('drops waiting frames when live frames arrive faster', async () => {
    const png = await solidPng(8, 8, [1, 2, 3]);
    const burst: FrameSource = {
      name: 'burst',
      live: true,
      malformed: 0,
      async *frames() {
        for (let i = 0; i < 50; i += 1) {
          const frame: Frame = { id: `f${i}`, source: 'burst', stamp: Date.now(), image: { kind: 'encoded', bytes: png }, bytes: png };
          yield frame;
        }
      },
    };
    const sink = new MemorySink();
    const runtime = new EdgeRuntime({ robot: 'r1', log: memoryLog(), output: sink });
    runtime.setActive(predictor);
    await runtime.run(burst, new AbortController().signal);
    const metrics = runtime.metrics.snapshot();
    expect(metrics.dropped).toBeGreaterThan(0);
    expect(metrics.dropped + metrics.inferred).toBe(50);
    expect(sink.records.at(-1)?.frameId).toBe('f49');
  });
});
