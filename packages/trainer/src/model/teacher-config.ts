import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { HeadKind, HeadRole } from '@fieldloop/contracts';
import { parse as parseYaml } from 'yaml';

/** Effect of a horizontal flip on a head's label: kept, negated, or no flip for samples labelled for the head. */
export type FlipPolicy = 'allow' | 'negate' | 'forbid';
export type RegressionLoss = 'mse' | 'huber';
export type BlockKind = 'residual' | 'inverted-residual';
export type LossWeighting = 'fixed' | 'uncertainty';
export type SamplingPolicy = 'proportional' | 'equal';
/** Sample field that groups samples into sources for the sampling policy. */
export type SourceKey = 'heads' | 'recording';

export interface HeadConfig {
  name: string;
  kind: HeadKind;
  role: HeadRole;
  weight: number;
  /** Regression loss; ignored by other kinds. */
  loss: RegressionLoss;
  /** Transition point of the Huber loss, in normalised label units. */
  huberDelta: number;
  flip: FlipPolicy;
  /**
   * Label value that a flip maps onto itself (straight ahead), for `flip: negate`: a flip turns
   * v into 2 * flipCenter - v. Null uses the training mean of the label.
   */
  flipCenter: number | null;
}

export interface StageConfig {
  channels: number;
  blocks: number;
  stride: number;
}

export interface BackboneConfig {
  block: BlockKind;
  stemChannels: number;
  stages: StageConfig[];
  /** Channel multiplier applied to the stem and every stage. */
  width: number;
  /** Expansion factor of inverted-residual blocks. */
  expansion: number;
  dropout: number;
}

export interface AugmentConfig {
  /** Probability of a horizontal flip. */
  flip: number;
  /** Maximum relative brightness change, for example 0.2 for ±20 %. */
  brightness: number;
  /** Maximum fraction of each side cut away by a random crop, which is resized back. */
  crop: number;
  /** Standard deviation of Gaussian pixel noise, in units of 0..255 pixel values. */
  noise: number;
}

export interface TrainingConfig {
  optimizer: 'adam' | 'adamw';
  learningRate: number;
  weightDecay: number;
  epochs: number;
  warmupEpochs: number;
  batchSize: number;
  seed: number;
  sampling: SamplingPolicy;
  sourceKey: SourceKey;
  /** Validation metric for early stopping and the best checkpoint: `loss` or `<head>.<metric>`. */
  earlyStoppingMetric: string;
  /** Epochs without improvement before training stops; 0 turns early stopping off. */
  patience: number;
  augment: AugmentConfig;
}

export interface TeacherConfig {
  input: { width: number; height: number; mean: [number, number, number]; std: [number, number, number] };
  backbone: BackboneConfig;
  heads: HeadConfig[];
  loss: { weighting: LossWeighting; auxiliaryLambda: number };
  training: TrainingConfig;
}

/** A config file that failed validation; `problems` lists every invalid field with its path. */
export class TeacherConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`Invalid teacher config ${source}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TeacherConfigError';
    this.problems = problems;
  }
}

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Reader {
  readonly problems: string[] = [];

  object(parent: Obj, key: string, path: string): Obj {
    const value = parent[key];
    if (value === undefined) return {};
    if (!isObject(value)) {
      this.problems.push(`${path}${key} must be a mapping, got ${JSON.stringify(value)}`);
      return {};
    }
    return value;
  }

  number(parent: Obj, key: string, path: string, fallback: number | undefined, check: (n: number) => boolean, rule: string): number {
    const value = parent[key];
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      this.problems.push(`${path}${key} is missing; it must be ${rule}`);
      return NaN;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
      this.problems.push(`${path}${key} must be ${rule}, got ${JSON.stringify(value)}`);
      return fallback ?? NaN;
    }
    return value;
  }

  choice<T extends string>(parent: Obj, key: string, path: string, options: readonly T[], fallback: T | undefined): T {
    const value = parent[key];
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
      this.problems.push(`${path}${key} must be one of ${options.join(', ')}, got ${JSON.stringify(value)}`);
      return fallback ?? (options[0] as T);
    }
    return value as T;
  }

  triple(parent: Obj, key: string, path: string, fallback: [number, number, number], positive: boolean): [number, number, number] {
    const value = parent[key];
    if (value === undefined) return fallback;
    if (
      !Array.isArray(value) ||
      value.length !== 3 ||
      !value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0))
    ) {
      this.problems.push(`${path}${key} must be a list of 3 ${positive ? 'positive ' : ''}numbers, got ${JSON.stringify(value)}`);
      return fallback;
    }
    return value as [number, number, number];
  }

  unknownKeys(value: Obj, path: string, known: string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.problems.push(`${path}${key} is not a known field (known: ${known.join(', ')})`);
    }
  }
}

const positiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;
const nonNegative = (n: number): boolean => n >= 0;
const unit = (n: number): boolean => n >= 0 && n <= 1;

function readHeads(reader: Reader, raw: unknown): HeadConfig[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    reader.problems.push(`heads must be a non-empty list of heads, got ${JSON.stringify(raw)}`);
    return [];
  }
  const heads: HeadConfig[] = [];
  const names = new Set<string>();
  raw.forEach((entry: unknown, index) => {
    const path = `heads[${index}].`;
    if (!isObject(entry)) {
      reader.problems.push(`heads[${index}] must be a mapping, got ${JSON.stringify(entry)}`);
      return;
    }
    reader.unknownKeys(entry, path, ['name', 'kind', 'role', 'weight', 'loss', 'huberDelta', 'flip', 'flipCenter']);
    const name = entry.name;
    if (typeof name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
      reader.problems.push(`${path}name must be a label key of letters, digits and _, got ${JSON.stringify(name)}`);
    } else if (names.has(name)) {
      reader.problems.push(`${path}name '${name}' is used by another head; head names must be unique`);
    } else {
      names.add(name);
    }
    const kind = reader.choice(entry, 'kind', path, ['classification', 'binary', 'regression'] as const, undefined);
    heads.push({
      name: typeof name === 'string' ? name : `head${index}`,
      kind,
      role: reader.choice(entry, 'role', path, ['primary', 'auxiliary'] as const, 'primary'),
      weight: reader.number(entry, 'weight', path, 1, nonNegative, 'a number >= 0'),
      loss: reader.choice(entry, 'loss', path, ['mse', 'huber'] as const, 'huber'),
      huberDelta: reader.number(entry, 'huberDelta', path, 1, (n) => n > 0, 'a number > 0'),
      flip: reader.choice(entry, 'flip', path, ['allow', 'negate', 'forbid'] as const, 'allow'),
      flipCenter: entry.flipCenter === undefined ? null : reader.number(entry, 'flipCenter', path, undefined, () => true, 'a finite number'),
    });
    const last = heads[heads.length - 1];
    if (last !== undefined && last.flip === 'negate' && kind !== 'regression') {
      reader.problems.push(`${path}flip 'negate' applies to regression heads only; '${last.name}' is ${kind}`);
    }
  });
  if (heads.length > 0 && !heads.some((head) => head.role === 'primary')) {
    reader.problems.push('heads must include at least one head with role primary');
  }
  return heads;
}

function readStages(reader: Reader, raw: unknown): StageConfig[] {
  const fallback: StageConfig[] = [
    { channels: 16, blocks: 1, stride: 1 },
    { channels: 32, blocks: 1, stride: 2 },
    { channels: 64, blocks: 1, stride: 2 },
  ];
  if (raw === undefined) return fallback;
  if (!Array.isArray(raw) || raw.length === 0) {
    reader.problems.push(`backbone.stages must be a non-empty list, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return raw.map((entry: unknown, index) => {
    const path = `backbone.stages[${index}].`;
    const stage = isObject(entry) ? entry : {};
    if (!isObject(entry)) reader.problems.push(`backbone.stages[${index}] must be a mapping, got ${JSON.stringify(entry)}`);
    return {
      channels: reader.number(stage, 'channels', path, undefined, positiveInt, 'a positive integer'),
      blocks: reader.number(stage, 'blocks', path, 1, positiveInt, 'a positive integer'),
      stride: reader.number(stage, 'stride', path, 1, (n) => n === 1 || n === 2, '1 or 2'),
    };
  });
}

/** Validates a parsed config object and fills defaults; throws a TeacherConfigError listing every problem. */
export function parseTeacherConfig(raw: unknown, source = '(inline)'): TeacherConfig {
  const reader = new Reader();
  if (!isObject(raw)) throw new TeacherConfigError(source, [`the top level must be a mapping, got ${JSON.stringify(raw)}`]);
  reader.unknownKeys(raw, '', ['input', 'backbone', 'heads', 'loss', 'training']);

  const input = reader.object(raw, 'input', '');
  reader.unknownKeys(input, 'input.', ['width', 'height', 'mean', 'std']);
  const backbone = reader.object(raw, 'backbone', '');
  reader.unknownKeys(backbone, 'backbone.', ['block', 'stemChannels', 'stages', 'width', 'expansion', 'dropout']);
  const loss = reader.object(raw, 'loss', '');
  reader.unknownKeys(loss, 'loss.', ['weighting', 'auxiliaryLambda']);
  const training = reader.object(raw, 'training', '');
  reader.unknownKeys(training, 'training.', [
    'optimizer', 'learningRate', 'weightDecay', 'epochs', 'warmupEpochs', 'batchSize', 'seed',
    'sampling', 'sourceKey', 'earlyStoppingMetric', 'patience', 'augment',
  ]);
  const augment = reader.object(training, 'augment', 'training.');
  reader.unknownKeys(augment, 'training.augment.', ['flip', 'brightness', 'crop', 'noise']);

  const heads = readHeads(reader, raw.heads);
  const config: TeacherConfig = {
    input: {
      width: reader.number(input, 'width', 'input.', undefined, (n) => positiveInt(n) && n >= 8, 'an integer >= 8'),
      height: reader.number(input, 'height', 'input.', undefined, (n) => positiveInt(n) && n >= 8, 'an integer >= 8'),
      mean: reader.triple(input, 'mean', 'input.', [0.5, 0.5, 0.5], false),
      std: reader.triple(input, 'std', 'input.', [0.25, 0.25, 0.25], true),
    },
    backbone: {
      block: reader.choice(backbone, 'block', 'backbone.', ['residual', 'inverted-residual'] as const, 'residual'),
      stemChannels: reader.number(backbone, 'stemChannels', 'backbone.', 16, positiveInt, 'a positive integer'),
      stages: readStages(reader, backbone.stages),
      width: reader.number(backbone, 'width', 'backbone.', 1, (n) => n > 0 && n <= 8, 'a number in (0, 8]'),
      expansion: reader.number(backbone, 'expansion', 'backbone.', 4, positiveInt, 'a positive integer'),
      dropout: reader.number(backbone, 'dropout', 'backbone.', 0, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    },
    heads,
    loss: {
      weighting: reader.choice(loss, 'weighting', 'loss.', ['fixed', 'uncertainty'] as const, 'fixed'),
      auxiliaryLambda: reader.number(loss, 'auxiliaryLambda', 'loss.', 0.5, nonNegative, 'a number >= 0'),
    },
    training: {
      optimizer: reader.choice(training, 'optimizer', 'training.', ['adam', 'adamw'] as const, 'adamw'),
      learningRate: reader.number(training, 'learningRate', 'training.', 1e-3, (n) => n > 0 && n < 1, 'a number in (0, 1)'),
      weightDecay: reader.number(training, 'weightDecay', 'training.', 1e-4, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
      epochs: reader.number(training, 'epochs', 'training.', 10, positiveInt, 'a positive integer'),
      warmupEpochs: reader.number(training, 'warmupEpochs', 'training.', 1, nonNegative, 'a number >= 0'),
      batchSize: reader.number(training, 'batchSize', 'training.', 32, positiveInt, 'a positive integer'),
      seed: reader.number(training, 'seed', 'training.', 1, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
      sampling: reader.choice(training, 'sampling', 'training.', ['proportional', 'equal'] as const, 'proportional'),
      sourceKey: reader.choice(training, 'sourceKey', 'training.', ['heads', 'recording'] as const, 'heads'),
      earlyStoppingMetric: typeof training.earlyStoppingMetric === 'string' ? training.earlyStoppingMetric : 'loss',
      patience: reader.number(training, 'patience', 'training.', 3, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
      augment: {
        flip: reader.number(augment, 'flip', 'training.augment.', 0.5, unit, 'a probability in [0, 1]'),
        brightness: reader.number(augment, 'brightness', 'training.augment.', 0.2, unit, 'a number in [0, 1]'),
        crop: reader.number(augment, 'crop', 'training.augment.', 0.1, (n) => n >= 0 && n < 0.5, 'a number in [0, 0.5)'),
        noise: reader.number(augment, 'noise', 'training.augment.', 2, nonNegative, 'a number >= 0'),
      },
    },
  };
  checkEarlyStoppingMetric(reader, config);
  if (reader.problems.length > 0) throw new TeacherConfigError(source, reader.problems);
  return config;
}

const HEAD_METRICS: Record<HeadKind, string[]> = {
  classification: ['accuracy', 'macroF1', 'weightedF1', 'loss'],
  binary: ['accuracy', 'macroF1', 'rocAuc', 'loss'],
  regression: ['mae', 'rmse', 'r2', 'loss'],
};

function checkEarlyStoppingMetric(reader: Reader, config: TeacherConfig): void {
  const metric = config.training.earlyStoppingMetric;
  if (metric === 'loss') return;
  const [headName, metricName] = metric.split('.');
  const head = config.heads.find((h) => h.name === headName);
  if (head === undefined || metricName === undefined || !HEAD_METRICS[head.kind].includes(metricName)) {
    const options = ['loss', ...config.heads.flatMap((h) => HEAD_METRICS[h.kind].map((m) => `${h.name}.${m}`))];
    reader.problems.push(`training.earlyStoppingMetric '${metric}' is unknown; use one of ${options.join(', ')}`);
  }
}

/** Returns true when a larger value of the early-stopping metric is better. */
export function metricIncreases(metric: string): boolean {
  const name = metric.split('.').pop() ?? metric;
  return !['loss', 'mae', 'rmse'].includes(name);
}

/** Reads a YAML or JSON teacher config file and validates it. */
export async function loadTeacherConfig(path: string): Promise<TeacherConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read teacher config ${path}: ${(error as Error).message}. Pass an existing YAML or JSON file.`);
  }
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new TeacherConfigError(path, [`the file is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`]);
  }
  return parseTeacherConfig(raw, path);
}
