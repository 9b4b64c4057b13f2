import type { CliCommand, CliResult } from '@fieldloop/contracts';
import { isBackendName, selectBackend } from '@fieldloop/trainer';
import { DEFAULT_AUGMENT } from '../kd/augment-inputs.ts';
import { LEARNING_RATE_SCHEDULES, type LearningRateSchedule } from '../kd/learning-rate-schedule.ts';
import { DISTILL_DEFAULTS, runDistillation, type DistillReport } from '../kd/run-distillation.ts';

function formatMetric(metric: string, value: number): string {
  if (Number.isNaN(value)) return '-';
  return metric === 'accuracy' ? `${(100 * value).toFixed(1)}%` : value.toPrecision(4);
}

function formatDrop(metric: string, drop: number): string {
  if (Number.isNaN(drop)) return '-';
  return metric === 'accuracy' ? `${(100 * drop).toFixed(1)} pt` : drop.toPrecision(3);
}

/** Renders the report as the table `fieldloop distill` prints. */
export function renderDistillReport(report: DistillReport): string {
  const lines: string[] = [];
  lines.push(
    `teacher ${report.teacher.parameters} parameters; student ${report.student.parameters} (${(100 * report.student.parameterShare).toFixed(1)}%, width ${report.student.widthMultiplier})`,
  );
  lines.push(`snapshot ${report.snapshot}: ${report.samples.train} train samples, ${report.samples.eval} ${report.samples.evalSplit} samples`);
  lines.push('head            metric    teacher   student  retained  int8/litert  int8/tfjs-tflite  int8 drop');
  for (const head of report.heads) {
    lines.push(
      [
        head.name.padEnd(15),
        head.metric.padEnd(8),
        formatMetric(head.metric, head.teacher).padStart(9),
        formatMetric(head.metric, head.student).padStart(9),
        (Number.isFinite(head.retained) ? `${(100 * head.retained).toFixed(1)}%` : '-').padStart(9),
        formatMetric(head.metric, head.exported['int8/litert'] ?? Number.NaN).padStart(12),
        formatMetric(head.metric, head.exported['int8/tfjs-tflite'] ?? Number.NaN).padStart(17),
        formatDrop(head.metric, head.int8Drop).padStart(10),
      ].join(' '),
    );
  }
  const f = report.files;
  lines.push(`files: float32 ${f.float32.bytes} B, int8 ${f.int8.bytes} B (${(100 * f.int8.shareOfFloat).toFixed(1)}% of float32)`);
  for (const [kind, file] of [['float32', f.float32], ['int8', f.int8]] as const) {
    const b = file.breakdown;
    lines.push(
      `${kind} bytes: tensor data ${b.tensorData}, quantization scales ${b.quantizationScales}, zero points ${b.quantizationZeroPoints}, ` +
        `tensor names ${b.tensorNames}, metadata ${b.metadata}, tables and padding ${b.other}`,
    );
  }
  lines.push('batch-1 latency (ms): ' + Object.entries(report.latency).map(([key, l]) => `${key} p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)}`).join('; '));
  return lines.join('\n');
}

/** Options that count something and must be whole numbers of at least 1. */
const COUNT_OPTIONS = new Set(['epochs', 'batchSize', 'maxTrainSamples', 'latencyRuns']);
/** Options that must be greater than 0. */
const POSITIVE_OPTIONS = new Set(['width', 'learningRate', 'temperature']);

function numberOption(options: Record<string, unknown>, key: string): number | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  const parsed = Number(value);
  const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (!Number.isFinite(parsed)) throw new Error(`Option ${flag} must be a number; got '${String(value)}'.`);
  if (COUNT_OPTIONS.has(key) && (!Number.isInteger(parsed) || parsed < 1)) throw new Error(`Option ${flag} must be a whole number of at least 1; got '${String(value)}'.`);
  if (POSITIVE_OPTIONS.has(key) && parsed <= 0) throw new Error(`Option ${flag} must be greater than 0; got '${String(value)}'.`);
  return parsed;
}

/** `fieldloop distill`: distills a teacher into a student, exports it and reports per head. */
export const distillCommand: CliCommand = {
  name: 'distill',
  summary: 'distill a teacher into a small student, export it as float32 and int8 TFLite, and report per head',
  description:
    'Loads the teacher (model.json and model-card.json from --teacher), builds a depthwise-separable student with ' +
    'every head (by default the widest that has at most 10% of the teacher parameters), trains it by knowledge ' +
    'distillation on the train split of --store (samples without a label learn from the teacher alone), and writes ' +
    'student/, student.tflite, student-int8.tflite and distill-report.json into --out. The report gives per head ' +
    'the teacher and student metric on the val split (test when val is empty), the metric of each exported file ' +
    'in LiteRT.js and tfjs-tflite, file sizes and batch-1 latency per runtime.',
  arguments: '',
  options: [
    { flags: '--teacher <dir>', description: 'teacher directory (model.json, weights, model-card.json)', required: true },
    { flags: '--backend <name>', description: 'tfjs backend for training the student: tfjs-node-gpu, tfjs-node, wasm or cpu (default: the fastest present)' },
    { flags: '--store <dir>', description: 'data set store directory', required: true },
    { flags: '--snapshot <version>', description: 'snapshot version (default: the latest)' },
    { flags: '--out <dir>', description: 'output directory', required: true },
    { flags: '--width <multiplier>', description: 'student width multiplier (default: widest within 10% of the teacher parameters)' },
    { flags: '--epochs <count>', description: 'training epochs', defaultValue: String(DISTILL_DEFAULTS.epochs) },
    { flags: '--batch-size <count>', description: 'samples per batch', defaultValue: '32' },
    { flags: '--learning-rate <rate>', description: 'Adam learning rate (the first epoch\'s, with a schedule)', defaultValue: String(DISTILL_DEFAULTS.learningRate) },
    {
      flags: '--learning-rate-schedule <schedule>',
      description: "'cosine' to decay the rate towards 0 over the epochs, or 'constant'",
      defaultValue: DISTILL_DEFAULTS.learningRateSchedule,
    },
    { flags: '--temperature <t>', description: 'distillation temperature T', defaultValue: String(DISTILL_DEFAULTS.temperature) },
    {
      flags: '--alpha <share>',
      description: 'weight of the distillation term of classification and binary heads; the hard-label term gets 1 - alpha',
      defaultValue: String(DISTILL_DEFAULTS.alpha),
    },
    {
      flags: '--regression-alpha <share>',
      description: "weight of the distillation term of regression heads; 1 copies the teacher's value",
      defaultValue: String(DISTILL_DEFAULTS.regressionAlpha),
    },
    { flags: '--augment-crop <share>', description: 'largest share of each image side a random crop cuts away, 0 to turn crops off', defaultValue: String(DEFAULT_AUGMENT.crop) },
    { flags: '--augment-brightness <share>', description: 'largest brightness change as a factor 1 ± share, 0 to turn it off', defaultValue: String(DEFAULT_AUGMENT.brightness) },
    { flags: '--augment-noise <std>', description: 'standard deviation of Gaussian pixel noise in 0-255 units, 0 to turn it off', defaultValue: String(DEFAULT_AUGMENT.noise) },
    { flags: '--seed <n>', description: 'seed of weight initialisation and batch order', defaultValue: '1' },
    { flags: '--eval-split <split>', description: "split the metrics are computed on: 'val' (default; 'test' when val is empty) or 'test'" },
    { flags: '--max-train-samples <count>', description: 'read at most this many train samples' },
    { flags: '--latency-runs <count>', description: 'timed batch-1 runs per runtime', defaultValue: '50' },
  ],
  async run(_args, options, context): Promise<CliResult> {
    const teacherDir = options['teacher'];
    const storeDir = options['store'];
    const outDir = options['out'];
    if (typeof teacherDir !== 'string' || typeof storeDir !== 'string' || typeof outDir !== 'string') {
      return { exitCode: 2, summary: { error: 'missing option' }, text: 'Missing --teacher, --store or --out; all three are required.' };
    }
    // The student trains on the same backends as the teacher; on wasm that needs the trainer's
    // gradient kernels, which selectBackend registers.
    const requested = options['backend'];
    if (requested !== undefined && !(typeof requested === 'string' && isBackendName(requested))) {
      throw new Error(`--backend must be tfjs-node-gpu, tfjs-node, wasm or cpu, got ${String(requested)}`);
    }
    const backend = await selectBackend(requested);
    context.log.info({ backend: backend.name, reason: backend.reason }, `backend: ${backend.name}`);
    const evalSplit = options['evalSplit'];
    if (evalSplit !== undefined && evalSplit !== 'val' && evalSplit !== 'test') {
      return { exitCode: 2, summary: { error: 'invalid option' }, text: `Invalid --eval-split '${String(evalSplit)}'; use 'val' or 'test'.` };
    }
    const schedule = options['learningRateSchedule'] ?? DISTILL_DEFAULTS.learningRateSchedule;
    if (!LEARNING_RATE_SCHEDULES.includes(schedule as LearningRateSchedule)) {
      return {
        exitCode: 2,
        summary: { error: 'invalid option' },
        text: `Invalid --learning-rate-schedule '${String(schedule)}'; use ${LEARNING_RATE_SCHEDULES.map((s) => `'${s}'`).join(' or ')}.`,
      };
    }
    const optional = (key: string): Record<string, number> => {
      const value = numberOption(options, key);
      return value === undefined ? {} : { [key]: value };
    };
    const augment = {
      crop: numberOption(options, 'augmentCrop') ?? DEFAULT_AUGMENT.crop,
      brightness: numberOption(options, 'augmentBrightness') ?? DEFAULT_AUGMENT.brightness,
      noise: numberOption(options, 'augmentNoise') ?? DEFAULT_AUGMENT.noise,
    };
    const report = await runDistillation({
      augment,
      learningRateSchedule: schedule as LearningRateSchedule,
      teacherDir,
      storeDir,
      outDir,
      log: context.log,
      ...(numberOption(options, 'snapshot') !== undefined ? { snapshot: numberOption(options, 'snapshot')! } : {}),
      ...(numberOption(options, 'width') !== undefined ? { widthMultiplier: numberOption(options, 'width')! } : {}),
      ...(evalSplit === undefined ? {} : { evalSplit }),
      ...optional('epochs'),
      ...optional('batchSize'),
      ...optional('learningRate'),
      ...optional('temperature'),
      ...optional('alpha'),
      ...optional('regressionAlpha'),
      ...optional('seed'),
      ...optional('maxTrainSamples'),
      ...optional('latencyRuns'),
    });
    return { exitCode: 0, summary: report, text: renderDistillReport(report) };
  },
};
