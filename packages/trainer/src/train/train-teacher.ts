import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { HeadSpec, InputSpec, Logger, Progress } from '@fieldloop/contracts';
import { sha256Hex } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import { disposeBatch, flipRulesOf, makeBatch, planEpoch } from '../data/make-batches.ts';
import type { LoadedSample } from '../data/load-samples.ts';
import { SeededRandom } from '../data/seeded-random.ts';
import { evaluateOutputs, predictOutputs, type EvaluationReport, type HeadMetrics } from '../eval/evaluate-model.ts';
import { buildTeacherModel } from '../model/build-teacher-model.ts';
import { createLogVariances, multiTaskLoss, type LossHead, type LossWeighting } from '../model/multitask-loss.ts';
import { setDropoutStep } from '../model/seeded-dropout.ts';
import { metricIncreases, type TeacherConfig } from '../model/teacher-config.ts';
import { saveLayersModel } from '../output/layers-model-files.ts';
import { loadCheckpoint, saveCheckpoint, type TrainingState } from './checkpoint.ts';
import { learningRateAt } from './learning-rate-schedule.ts';

export const METRICS_LOG_FILE = 'metrics.jsonl';
export const CHECKPOINT_DIR = 'checkpoint';

export interface TrainTeacherOptions {
  config: TeacherConfig;
  heads: HeadSpec[];
  input: InputSpec;
  train: LoadedSample[];
  val: LoadedSample[];
  /** Receives model.json, weights.bin (best epoch), the checkpoint and the metrics log. */
  outDir: string;
  log: Logger;
  progress?: (label: string, unit: string, total?: number) => Progress;
  /** Weights to start from instead of a fresh initialisation, such as an earlier teacher. */
  initialModel?: tf.LayersModel;
  /** Identifies the training data (such as the snapshot's manifest hash); a checkpoint made for other data is rejected. */
  dataKey?: string;
  /** Stops after this many epochs of the current run; the schedule still spans `config.training.epochs`. */
  maxEpochsThisRun?: number;
}

export interface EpochRecord {
  epoch: number;
  step: number;
  learningRate: number;
  trainLoss: number;
  trainLossPerHead: Record<string, number>;
  valLoss: number | null;
  valMetrics: Record<string, number | null>;
  /** Learned log-variances per head, with uncertainty weighting. */
  logVariances?: Record<string, number>;
  seconds: number;
  numTensors: number;
}

export interface TrainTeacherResult {
  model: tf.LayersModel;
  state: TrainingState;
  /** Epochs run by this call. */
  history: EpochRecord[];
  /** The epoch this call started from; above 1 after a resume. */
  startEpoch: number;
  stoppedEarly: boolean;
  validation: EvaluationReport | null;
  logVariances?: Record<string, number>;
}

/** Returns the value of the early-stopping metric, such as `loss` or `sign.macroF1`. */
function monitoredValue(metric: string, valLoss: number | null, report: EvaluationReport | null): number | null {
  if (metric === 'loss') return valLoss;
  const [head, name] = metric.split('.');
  const metrics = head === undefined ? undefined : report?.heads[head];
  if (metrics === undefined || name === undefined) return null;
  return flattenHeadMetric(metrics)[name] ?? null;
}

/** Returns the headline numbers of a head's metrics, by name. */
export function flattenHeadMetric(metrics: HeadMetrics): Record<string, number | null> {
  if (metrics.kind === 'regression') return { mae: metrics.mae, rmse: metrics.rmse, r2: metrics.r2, count: metrics.count };
  const flat: Record<string, number | null> = {
    accuracy: metrics.accuracy,
    macroF1: metrics.macro.f1,
    weightedF1: metrics.weighted.f1,
    count: metrics.count,
  };
  if (metrics.kind === 'binary') flat.rocAuc = metrics.rocAuc;
  return flat;
}

function copyWeights(from: tf.LayersModel, to: tf.LayersModel): void {
  const source = from.getWeights();
  const target = to.weights;
  const mismatch = source.length !== target.length || source.some((tensor, i) => !tf.util.arraysEqual(tensor.shape, target[i]?.shape as number[]));
  if (mismatch) {
    throw new Error(
      `The starting teacher's weights (${source.length} tensors) do not fit the model built from the config (${target.length} tensors). ` +
        'Fine-tune with the config the teacher was trained with (the default without --config).',
    );
  }
  to.setWeights(source);
}

function lossHeads(config: TeacherConfig, heads: HeadSpec[]): LossHead[] {
  return heads.map((head) => {
    const settings = config.heads.find((h) => h.name === head.name);
    return { ...head, loss: settings?.loss ?? 'huber', huberDelta: settings?.huberDelta ?? 1 };
  });
}

/** Returns true for variables that AdamW's decoupled weight decay shrinks: kernels, not biases, BatchNorm parameters or log-variances. */
function decays(variable: tf.Variable): boolean {
  return /kernel/.test(variable.name);
}

function computeValLoss(model: tf.LayersModel, heads: LossHead[], samples: LoadedSample[], input: InputSpec, auxiliaryLambda: number, batchSize: number): number | null {
  if (samples.length === 0) return null;
  let sum = 0;
  for (let start = 0; start < samples.length; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, samples.length - start) }, (_, i) => start + i);
    const batch = makeBatch(samples, indices, heads, input);
    const value = tf.tidy(() => {
      const outputs = model.apply(batch.x, { training: false });
      const list = Array.isArray(outputs) ? outputs : [outputs];
      return multiTaskLoss(heads, list as tf.Tensor[], batch.targets, { kind: 'fixed' }, auxiliaryLambda).total.dataSync()[0] ?? 0;
    });
    disposeBatch(batch);
    sum += value * indices.length;
  }
  return sum / samples.length;
}

/**
 * Trains the teacher with a custom masked multi-task loss (`tf.variableGrads`), resuming from the
 * checkpoint in `outDir` when there is one. After every epoch it evaluates on `val`, appends a
 * line to the metrics log, saves the model when the monitored metric improves, and writes a
 * checkpoint. Stops early after `patience` epochs without improvement.
 */
export async function trainTeacher(options: TrainTeacherOptions): Promise<TrainTeacherResult> {
  const { config, input, outDir, log } = options;
  const training = config.training;
  if (options.train.length === 0) throw new Error('The training split has no samples for the configured heads. Check the snapshot and the head names.');
  await mkdir(outDir, { recursive: true });
  const heads = lossHeads(config, options.heads);
  const model = buildTeacherModel(config, options.heads);
  if (options.initialModel !== undefined) copyWeights(options.initialModel, model);
  const logVariances = config.loss.weighting === 'uncertainty' ? createLogVariances(options.heads) : {};
  const weighting: LossWeighting = config.loss.weighting === 'uncertainty' ? { kind: 'uncertainty', logVariances } : { kind: 'fixed' };
  const optimizer = tf.train.adam(training.learningRate);
  const settable = optimizer as unknown as { learningRate: number };
  const trainable = [...model.trainableWeights.map((weight) => weight.read() as tf.Variable), ...Object.values(logVariances)];
  const flipRules = flipRulesOf(config.heads, options.heads);

  const configHash = sha256Hex(Buffer.from(JSON.stringify({ config, heads: options.heads, data: options.dataKey ?? null })));
  const checkpointDir = join(outDir, CHECKPOINT_DIR);
  const parts = { model, optimizer, extra: logVariances };
  let restored: TrainingState | null;
  try {
    restored = await loadCheckpoint(checkpointDir, parts);
    if (restored !== null && restored.configHash !== configHash) {
      throw new Error(`The checkpoint in ${checkpointDir} was made with another config or snapshot. Use a new --out directory or delete the checkpoint.`);
    }
  } catch (error) {
    model.dispose();
    optimizer.dispose();
    tf.dispose(Object.values(logVariances));
    throw error;
  }
  let state: TrainingState = restored ?? {
    epoch: 0,
    step: 0,
    bestMetric: null,
    bestEpoch: 0,
    epochsWithoutImprovement: 0,
    configHash,
    elapsedSeconds: 0,
  };
  if (restored !== null) log.info({ epoch: state.epoch, checkpoint: checkpointDir }, 'resuming from checkpoint');

  const stepsPerEpoch = Math.ceil(options.train.length / training.batchSize);
  const totalSteps = stepsPerEpoch * training.epochs;
  const warmupSteps = Math.round(training.warmupEpochs * stepsPerEpoch);
  const increases = metricIncreases(training.earlyStoppingMetric);
  const history: EpochRecord[] = [];
  const startEpoch = state.epoch + 1;
  const lastEpoch = Math.min(training.epochs, state.epoch + (options.maxEpochsThisRun ?? Infinity));
  let stoppedEarly = training.patience > 0 && state.epochsWithoutImprovement >= training.patience;
  let validation: EvaluationReport | null = null;

  for (let epoch = startEpoch; epoch <= lastEpoch && !stoppedEarly; epoch++) {
    const started = performance.now();
    // One generator per epoch, seeded from the config's seed and the epoch, so a resumed run
    // draws the same batches and augmentations as an uninterrupted one.
    const random = new SeededRandom(training.seed * 100_003 + epoch);
    const plan = planEpoch(options.train, training.batchSize, training.sampling, training.sourceKey, options.heads, random);
    const progress = options.progress?.(`epoch ${epoch}/${training.epochs}`, 'batches', plan.length);
    let lossSum = 0;
    const headSums = new Array<number>(heads.length).fill(0);
    let learningRate = training.learningRate;
    for (const [batchIndex, indices] of plan.entries()) {
      learningRate = learningRateAt(state.step, totalSteps, warmupSteps, training.learningRate);
      settable.learningRate = learningRate;
      const batch = makeBatch(options.train, indices, options.heads, input, { config: training.augment, flipRules, random });
      const perHeadLosses: tf.Scalar[] = [];
      setDropoutStep(model, state.step);
      const { value, grads } = tf.variableGrads(() => {
        const outputs = model.apply(batch.x, { training: true });
        const list = (Array.isArray(outputs) ? outputs : [outputs]) as tf.Tensor[];
        const loss = multiTaskLoss(heads, list, batch.targets, weighting, config.loss.auxiliaryLambda);
        perHeadLosses.push(...loss.perHead.map((t) => tf.keep(t)));
        return loss.total;
      }, trainable);
      optimizer.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>);
      if (training.optimizer === 'adamw' && training.weightDecay > 0) {
        tf.tidy(() => {
          for (const variable of trainable) {
            if (decays(variable)) variable.assign(tf.mul(variable, 1 - learningRate * training.weightDecay));
          }
        });
      }
      lossSum += (await value.data())[0] ?? NaN;
      for (const [i, t] of perHeadLosses.entries()) headSums[i]! += (await t.data())[0] ?? NaN;
      tf.dispose([value, ...Object.values(grads), ...perHeadLosses]);
      disposeBatch(batch);
      state.step++;
      progress?.update(batchIndex + 1, plan.length);
    }
    progress?.stop();

    const valLoss = computeValLoss(model, heads, options.val, input, config.loss.auxiliaryLambda, training.batchSize);
    validation = options.val.length > 0 ? evaluateOutputs(options.heads, options.val, predictOutputs(model, options.val, options.heads, input, training.batchSize)) : null;
    const valMetrics: Record<string, number | null> = {};
    for (const [head, metrics] of Object.entries(validation?.heads ?? {})) {
      for (const [name, value] of Object.entries(flattenHeadMetric(metrics))) valMetrics[`${head}.${name}`] = value;
    }
    const monitored = options.val.length > 0 ? monitoredValue(training.earlyStoppingMetric, valLoss, validation) : lossSum / plan.length;
    const improved =
      monitored !== null &&
      Number.isFinite(monitored) &&
      (state.bestMetric === null || (increases ? monitored > state.bestMetric : monitored < state.bestMetric));
    const seconds = (performance.now() - started) / 1000;
    state = {
      ...state,
      epoch,
      elapsedSeconds: state.elapsedSeconds + seconds,
      bestMetric: improved ? monitored : state.bestMetric,
      bestEpoch: improved ? epoch : state.bestEpoch,
      epochsWithoutImprovement: improved ? 0 : state.epochsWithoutImprovement + 1,
    };
    if (improved) await saveLayersModel(model, outDir);
    await saveCheckpoint(checkpointDir, parts, state);

    const record: EpochRecord = {
      epoch,
      step: state.step,
      learningRate,
      trainLoss: lossSum / plan.length,
      trainLossPerHead: Object.fromEntries(heads.map((head, i) => [head.name, headSums[i]! / plan.length])),
      valLoss,
      valMetrics,
      seconds,
      numTensors: tf.memory().numTensors,
    };
    if (weighting.kind === 'uncertainty') {
      record.logVariances = Object.fromEntries(Object.entries(logVariances).map(([name, v]) => [name, v.dataSync()[0] ?? NaN]));
    }
    history.push(record);
    await appendFile(join(outDir, METRICS_LOG_FILE), `${JSON.stringify(record)}\n`);
    log.info(
      { epoch, trainLoss: record.trainLoss, valLoss, monitored: training.earlyStoppingMetric, value: monitored, seconds: Math.round(seconds * 10) / 10 },
      `epoch ${epoch}/${training.epochs} done`,
    );
    stoppedEarly = training.patience > 0 && state.epochsWithoutImprovement >= training.patience;
    if (stoppedEarly) log.info({ epoch, bestEpoch: state.bestEpoch }, 'early stopping: no improvement');
  }
  if (state.bestEpoch === 0) await saveLayersModel(model, outDir);
  const result: TrainTeacherResult = { model, state, history, startEpoch, stoppedEarly, validation };
  if (weighting.kind === 'uncertainty') {
    result.logVariances = Object.fromEntries(Object.entries(logVariances).map(([name, v]) => [name, v.dataSync()[0] ?? NaN]));
  }
  return result;
}
