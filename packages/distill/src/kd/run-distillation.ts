import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HeadSpec, InputSpec, Logger } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import * as tf from '@tensorflow/tfjs';
import { loadModelDir, saveModelDir } from '../cli/load-model-dir.ts';
import { batchSource, loadStoreSamples, type PreparedSample } from '../data/store-samples.ts';
import { headMetric, retainedShare, type HeadMetric } from '../eval/head-metrics.ts';
import { measureLatency, type Latency } from '../eval/measure-latency.ts';
import { predictTflite, predictTfjs } from '../eval/predict-outputs.ts';
import { loadTfliteModel } from '../runtime/load-tflite-model.ts';
import { TFLITE_ENGINES } from '../runtime/tflite-model.ts';
import { buildStudent } from '../student/build-student.ts';
import { chooseWidth } from '../student/choose-width.ts';
import { exportTfliteFile, writeFileAtomic } from '../tflite/export-tflite.ts';
import { measureTfliteBytes, type TfliteByteBreakdown } from '../tflite/measure-tflite-bytes.ts';
import { DEFAULT_AUGMENT, type AugmentConfig } from './augment-inputs.ts';
import { distill } from './distill.ts';
import type { LearningRateSchedule } from './learning-rate-schedule.ts';

export interface RunDistillationOptions {
  teacherDir: string;
  storeDir: string;
  /** Snapshot version; the latest when absent. */
  snapshot?: number;
  outDir: string;
  /** Student width multiplier; when absent, the widest candidate within `maxParameterShare`. */
  widthMultiplier?: number;
  maxParameterShare?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  learningRateSchedule?: LearningRateSchedule;
  temperature?: number;
  alpha?: number;
  /** Weight of the distillation term for regression heads. */
  regressionAlpha?: number;
  /** Augmentation of the train batches; `DEFAULT_AUGMENT` when absent, `NO_AUGMENT` turns it off. */
  augment?: AugmentConfig;
  seed?: number;
  /** Split the metrics are computed on. Default `val`. */
  evalSplit?: 'val' | 'test';
  calibrationSamples?: number;
  /** Caps the train samples read, for quick runs. */
  maxTrainSamples?: number;
  latencyRuns?: number;
  log: Logger;
}

export interface HeadReport {
  name: string;
  kind: HeadSpec['kind'];
  metric: HeadMetric['name'];
  samples: number;
  teacher: number;
  student: number;
  retained: number;
  /** The student's metric from each exported file in each runtime, keyed `float32/litert` and so on. */
  exported: Record<string, number>;
  /** Largest difference between the tfjs student's metric and an int8 file's metric, in metric units. */
  int8Drop: number;
}

export interface DistillReport {
  teacher: { dir: string; parameters: number };
  student: { dir: string; parameters: number; widthMultiplier: number; parameterShare: number };
  snapshot: number;
  samples: { train: number; eval: number; evalSplit: string };
  epochLosses: number[];
  heads: HeadReport[];
  /** Size of each file and where its bytes go (`measureTfliteBytes`). */
  files: {
    float32: { path: string; bytes: number; breakdown: TfliteByteBreakdown };
    int8: { path: string; bytes: number; shareOfFloat: number; breakdown: TfliteByteBreakdown };
  };
  /** Batch-1 latency in ms per runtime, keyed `float32/litert`, `int8/tfjs-tflite`, `tfjs/<backend>` and so on. */
  latency: Record<string, Latency>;
}

/**
 * Defaults of `runDistillation` and `fieldloop distill`, chosen by a sweep on the RC-car and
 * GTSRB data with the default teacher (results in BENCHMARKS.md). Regression heads copy the
 * teacher's value (alpha 1). On the 10 held-out steering frames, students with alpha 0.5 had an
 * MAE of 5.8 to 10.1 servo counts, and students that copied the teacher 5.5 to 6.0.
 */
export const DISTILL_DEFAULTS = {
  epochs: 30,
  learningRate: 5e-3,
  learningRateSchedule: 'cosine' as LearningRateSchedule,
  temperature: 2,
  alpha: 0.5,
  regressionAlpha: 1,
};

async function readSplits(options: RunDistillationOptions, heads: HeadSpec[], input: InputSpec) {
  const store = await DatasetStore.open(options.storeDir, { readOnly: true });
  try {
    const version = options.snapshot ?? store.listSnapshots().at(-1)?.version;
    if (version === undefined) throw new Error(`Store ${options.storeDir} has no snapshot; ingest data first.`);
    const train = await loadStoreSamples(store, version, { split: 'train', heads, input, ...(options.maxTrainSamples ? { limit: options.maxTrainSamples } : {}) });
    let evalSplit: 'val' | 'test' = options.evalSplit ?? 'val';
    let held = await loadStoreSamples(store, version, { split: evalSplit, heads, input });
    if (held.length === 0 && options.evalSplit === undefined) {
      evalSplit = 'test';
      held = await loadStoreSamples(store, version, { split: evalSplit, heads, input });
    }
    if (train.length === 0) throw new Error(`Snapshot ${version} of ${options.storeDir} has no train samples.`);
    if (held.length === 0) throw new Error(`Snapshot ${version} of ${options.storeDir} has no ${evalSplit} samples to evaluate on.`);
    return { version, train, held, evalSplit };
  } finally {
    await store.close();
  }
}

function metricsFor(heads: HeadSpec[], samples: PreparedSample[], outputs: Record<string, Float32Array[]>): Map<string, HeadMetric> {
  return new Map(heads.map((head) => [head.name, headMetric(head, samples, outputs[head.name] ?? [])]));
}

/**
 * Distills the teacher in `teacherDir` into a student on a snapshot. Writes the student (tfjs
 * directory, float32 and int8 TFLite files) and `distill-report.json` into `outDir`. The returned
 * report has per head the teacher, student and exported-file metrics, plus parameters, file sizes
 * and batch-1 latency per runtime.
 */
export async function runDistillation(options: RunDistillationOptions): Promise<DistillReport> {
  const { model: teacher, card } = await loadModelDir(options.teacherDir);
  const heads = card.heads;
  const input = card.input;
  const teacherParameters = teacher.countParams();
  const maxShare = options.maxParameterShare ?? 0.1;
  const chosen =
    options.widthMultiplier === undefined
      ? chooseWidth(heads, input, teacherParameters, maxShare)
      : { width: options.widthMultiplier, fits: true, parameters: 0 };
  if (!chosen.fits) {
    options.log.warn({ teacherParameters, width: chosen.width, parameters: chosen.parameters, maxShare }, 'no student width fits the parameter budget; using the narrowest');
  }
  const seed = options.seed ?? 1;
  const student = buildStudent(heads, input, { widthMultiplier: chosen.width, seed });

  const { version, train, held, evalSplit } = await readSplits(options, heads, input);
  options.log.info({ train: train.length, eval: held.length, evalSplit, width: chosen.width, studentParameters: student.countParams(), teacherParameters }, 'distilling');

  const result = await distill(teacher, student, batchSource(train, heads, input, options.batchSize ?? 32, seed), {
    heads,
    epochs: options.epochs ?? DISTILL_DEFAULTS.epochs,
    learningRate: options.learningRate ?? DISTILL_DEFAULTS.learningRate,
    learningRateSchedule: options.learningRateSchedule ?? DISTILL_DEFAULTS.learningRateSchedule,
    temperature: options.temperature ?? DISTILL_DEFAULTS.temperature,
    alpha: options.alpha ?? DISTILL_DEFAULTS.alpha,
    regressionAlpha: options.regressionAlpha ?? DISTILL_DEFAULTS.regressionAlpha,
    augment: { config: options.augment ?? DEFAULT_AUGMENT, input, seed },
    onEpoch: (epoch, loss) => options.log.info({ epoch, loss }, 'distill epoch done'),
  });

  const studentDir = path.join(options.outDir, 'student');
  await saveModelDir(student, studentDir, { ...card, format: 'fieldloop-student-card', distilledFrom: options.teacherDir, widthMultiplier: chosen.width });
  const floatPath = path.join(options.outDir, 'student.tflite');
  const int8Path = path.join(options.outDir, 'student-int8.tflite');
  // The file carries only what a runtime needs to read the outputs: heads (classes, normalisation) and input.
  const fileCard = { heads, input };
  await exportTfliteFile(student, floatPath, { modelCard: fileCard });
  const calibration = train.slice(0, options.calibrationSamples ?? 100).map((s) => tf.tensor4d(s.pixels, [1, input.height, input.width, 3]));
  await exportTfliteFile(student, int8Path, { modelCard: fileCard, calibration });
  for (const tensor of calibration) tensor.dispose();

  const teacherMetrics = metricsFor(heads, held, predictTfjs(teacher, held, heads, input));
  const studentMetrics = metricsFor(heads, held, predictTfjs(student, held, heads, input));
  const exported = new Map<string, Map<string, HeadMetric>>();
  const latency: Record<string, Latency> = {};
  const runs = options.latencyRuns ?? 50;
  const probe = held[0]!.pixels;
  for (const [kind, file] of [['float32', floatPath], ['int8', int8Path]] as const) {
    for (const engine of TFLITE_ENGINES) {
      const loaded = await loadTfliteModel(file, engine);
      try {
        exported.set(`${kind}/${engine}`, metricsFor(heads, held, await predictTflite(loaded, held, heads)));
        const inputName = loaded.inputs[0]!.name;
        latency[`${kind}/${engine}`] = await measureLatency(() => loaded.run({ [inputName]: probe }), runs);
      } finally {
        loaded.close();
      }
    }
  }
  const probeTensor = tf.tensor4d(probe, [1, input.height, input.width, 3]);
  const tfjsRun = async (model: tf.LayersModel): Promise<void> => {
    const out = model.predict(probeTensor);
    for (const t of Array.isArray(out) ? out : [out]) {
      await t.data();
      t.dispose();
    }
  };
  latency[`tfjs/${tf.getBackend()}`] = await measureLatency(() => tfjsRun(student), runs);
  latency[`teacher-tfjs/${tf.getBackend()}`] = await measureLatency(() => tfjsRun(teacher), Math.max(5, Math.floor(runs / 5)));
  probeTensor.dispose();

  for (const head of heads) {
    if (teacherMetrics.get(head.name)!.count === 0) {
      options.log.warn({ head: head.name, evalSplit }, 'no labelled samples for this head in the evaluation split; its metrics are NaN');
    }
  }
  const headReports: HeadReport[] = heads.map((head) => {
    const t = teacherMetrics.get(head.name)!;
    const s = studentMetrics.get(head.name)!;
    const perFile: Record<string, number> = {};
    let int8Drop = 0;
    for (const [key, metrics] of exported) {
      const value = metrics.get(head.name)!.value;
      perFile[key] = value;
      if (key.startsWith('int8/')) {
        const drop = s.name === 'accuracy' ? s.value - value : value - s.value;
        int8Drop = Math.max(int8Drop, drop);
      }
    }
    return { name: head.name, kind: head.kind, metric: t.name, samples: t.count, teacher: t.value, student: s.value, retained: retainedShare(t, s), exported: perFile, int8Drop };
  });

  const floatBreakdown = measureTfliteBytes(new Uint8Array(await readFile(floatPath)));
  const int8Breakdown = measureTfliteBytes(new Uint8Array(await readFile(int8Path)));
  const floatBytes = floatBreakdown.total;
  const int8Bytes = int8Breakdown.total;
  const report: DistillReport = {
    teacher: { dir: options.teacherDir, parameters: teacherParameters },
    student: { dir: studentDir, parameters: student.countParams(), widthMultiplier: chosen.width, parameterShare: student.countParams() / teacherParameters },
    snapshot: version,
    samples: { train: train.length, eval: held.length, evalSplit },
    epochLosses: result.epochLosses,
    heads: headReports,
    files: {
      float32: { path: floatPath, bytes: floatBytes, breakdown: floatBreakdown },
      int8: { path: int8Path, bytes: int8Bytes, shareOfFloat: int8Bytes / floatBytes, breakdown: int8Breakdown },
    },
    latency,
  };
  await writeFileAtomic(path.join(options.outDir, 'distill-report.json'), new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`));
  return report;
}
