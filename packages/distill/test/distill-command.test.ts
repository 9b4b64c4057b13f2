import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { computeSampleId, sha256Hex, type CliContext, type HeadSpec, type InputSpec, type LabelValue, type SampleRecord } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStudent, distillCommand, saveModelDir, type DistillReport } from '../src/index.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const context: CliContext = { log: silent, progress: () => ({ update() {}, stop() {} }) };

const heads: HeadSpec[] = [
  { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: ['dark', 'light'] },
  { name: 'blocked', kind: 'binary', role: 'auxiliary', weight: 0.5, classes: ['false', 'true'] },
  { name: 'steering', kind: 'regression', role: 'primary', weight: 1, normalization: { mean: 0, std: 0.5 } },
];
const input: InputSpec = { width: 12, height: 12, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

/** Builds a store whose labels follow the image brightness, with every fifth sample unlabelled. */
async function buildStore(dir: string): Promise<void> {
  const store = await DatasetStore.open(dir, { fsync: false });
  const samples = Array.from({ length: 60 }, (_, i) => {
    const level = (i * 37) % 256;
    const pixels = new Uint8Array(12 * 12 * 3).fill(level);
    const labels: Record<string, LabelValue> =
      i % 5 === 4 ? {} : { sign: level > 127 ? 'light' : 'dark', blocked: level > 200, steering: level / 255 - 0.5 };
    const inputSha256 = sha256Hex(pixels);
    const record: SampleRecord = {
      id: computeSampleId(inputSha256, labels, []),
      imageSha256: inputSha256,
      inputSha256,
      width: 12,
      height: 12,
      labels,
      tags: [],
      source: { recording: `run-${i}`, topic: 'camera', logTimeNs: null, file: `frame-${i}.png` },
      splitKey: `run-${i}`,
    };
    return { record, image: pixels, input: pixels };
  });
  await store.createSnapshot({ note: 'distill test', samples });
  await store.close();
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('distillCommand', () => {
  it('writes student, files and report', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'distill-run-'));
    const storeDir = path.join(root, 'store');
    const teacherDir = path.join(root, 'teacher');
    const outDir = path.join(root, 'out');
    await buildStore(storeDir);
    await saveModelDir(buildStudent(heads, input, { widthMultiplier: 2, seed: 4 }), teacherDir, { heads, input });

    const result = await distillCommand.run([], { teacher: teacherDir, store: storeDir, out: outDir, epochs: '2', latencyRuns: '3', batchSize: '16' }, context);
    expect(result.exitCode).toBe(0);
    const report = result.summary as DistillReport;

    expect(report.heads.map((h) => h.name)).toEqual(['sign', 'blocked', 'steering']);
    expect(report.student.parameterShare).toBeLessThanOrEqual(0.1);
    expect(report.files.int8.bytes).toBeLessThan(report.files.float32.bytes);
    for (const head of report.heads) {
      expect(Object.keys(head.exported).sort()).toEqual(['float32/litert', 'float32/tfjs-tflite', 'int8/litert', 'int8/tfjs-tflite']);
      expect(head.exported['float32/litert']).toBeCloseTo(head.student, 6);
    }
    expect(Object.keys(report.latency)).toContain('int8/litert');
    expect(existsSync(path.join(outDir, 'student', 'model.json'))).toBe(true);
    expect(existsSync(path.join(outDir, 'student-int8.tflite'))).toBe(true);
    const written = JSON.parse(readFileSync(path.join(outDir, 'distill-report.json'), 'utf8')) as DistillReport;
    expect(written.samples.train).toBe(report.samples.train);
    expect(result.text).toMatch(/retained/);
    const breakdown = report.files.int8.breakdown;
    const parts = breakdown.tensorData + breakdown.metadata + breakdown.tensorNames + breakdown.quantizationScales + breakdown.quantizationZeroPoints + breakdown.other;
    expect(parts).toBe(report.files.int8.bytes);
    expect(report.files.float32.breakdown.total).toBe(report.files.float32.bytes);
    expect(result.text).toMatch(/int8 bytes: tensor data \d+/);
  });

  it('invalid learning rate schedule rejected', async () => {
    const result = await distillCommand.run([], { teacher: '/t', store: '/s', out: '/o', learningRateSchedule: 'step' }, context);
    expect(result.exitCode).toBe(2);
    expect(result.text).toMatch(/--learning-rate-schedule 'step'; use 'constant' or 'cosine'/);
  });

  it('invalid eval split rejected', async () => {
    const result = await distillCommand.run([], { teacher: '/t', store: '/s', out: '/o', evalSplit: 'train' }, context);
    expect(result.exitCode).toBe(2);
    expect(result.text).toMatch(/--eval-split 'train'/);
  });

  it('zero epochs rejected', async () => {
    await expect(distillCommand.run([], { teacher: '/t', store: '/s', out: '/o', epochs: '0' }, context)).rejects.toThrow(/--epochs must be a whole number of at least 1; got '0'/);
  });

  it('negative width rejected', async () => {
    await expect(distillCommand.run([], { teacher: '/t', store: '/s', out: '/o', width: '-1' }, context)).rejects.toThrow(/--width must be greater than 0; got '-1'/);
  });

  it('missing options rejected', async () => {
    const result = await distillCommand.run([], { teacher: '/nonexistent' }, context);
    expect(result.exitCode).toBe(2);
  });
});
