import type { HeadSpec, InputSpec, Logger, Progress } from '@fieldloop/contracts';
import { DatasetStore, type SnapshotRef } from '@fieldloop/dataset';
import { selectBackend, type BackendName, type BackendSelection } from '../backend/select-backend.ts';
import { buildHeadSpecs } from '../data/head-specs.ts';
import { loadSamples, type LoadedSample } from '../data/load-samples.ts';
import { SeededRandom } from '../data/seeded-random.ts';
import { baselineOutputs, evaluateOutputs, predictOutputs, type EvaluationReport } from '../eval/evaluate-model.ts';
import { loadTeacherConfig, type TeacherConfig } from '../model/teacher-config.ts';
import { loadLayersModel } from '../output/layers-model-files.ts';
import { loadTeacher, writeModelCard, type ModelCard } from '../output/model-card.ts';
import { flattenHeadMetric, trainTeacher, type TrainTeacherResult } from './train-teacher.ts';

export interface RunTrainingOptions {
  storeDir: string;
  snapshot: SnapshotRef;
  /** Config file; optional with `fromDir`, where the teacher's own config is the default. */
  configPath?: string;
  outDir: string;
  backend?: BackendName;
  /** Teacher to fine-tune on the snapshot's newest samples. */
  fromDir?: string;
  /** Share of earlier samples in the fine-tuning set, in [0, 1). */
  replay?: number;
  epochs?: number;
  /** Stops after this many epochs of this run (the schedule still spans all epochs); for tests of resume. */
  maxEpochsThisRun?: number;
  log: Logger;
  progress?: (label: string, unit: string, total?: number) => Progress;
}

export interface RunTrainingResult {
  card: ModelCard;
  backend: BackendSelection;
  training: Omit<TrainTeacherResult, 'model' | 'validation'>;
  validation: EvaluationReport;
  baseline: EvaluationReport;
  /** With fine-tuning: validation metrics on the snapshot's new samples and on earlier samples. */
  fineTune?: { newSamples: EvaluationReport; earlierSamples: EvaluationReport; trainNew: number; trainReplay: number };
}

export function inputSpecOf(config: TeacherConfig): InputSpec {
  return { width: config.input.width, height: config.input.height, channels: 3, layout: 'NHWC', mean: config.input.mean, std: config.input.std };
}

/** Picks new-field samples plus a random `replay` share of earlier samples, so fine-tuning does not forget. */
function mixReplay(train: LoadedSample[], version: number, replay: number, seed: number): { mixed: LoadedSample[]; fresh: number; replayed: number } {
  const fresh = train.filter((sample) => sample.addedIn === version);
  const earlier = train.filter((sample) => sample.addedIn !== version);
  if (fresh.length === 0) {
    throw new Error(`Snapshot v${version} added no training samples for the teacher's heads, so there is nothing new to fine-tune on.`);
  }
  const replayCount = replay <= 0 ? 0 : Math.round((replay / (1 - replay)) * fresh.length);
  const replayed = new SeededRandom(seed).shuffle([...earlier]).slice(0, replayCount);
  return { mixed: [...fresh, ...replayed], fresh: fresh.length, replayed: replayed.length };
}

/**
 * Trains a teacher on a snapshot (or fine-tunes one with `fromDir`), writes model.json,
 * weights.bin, model-card.json, the checkpoint and the metrics log into `outDir`, and returns the
 * validation metrics of the best epoch next to trivial baselines.
 */
export async function runTraining(options: RunTrainingOptions): Promise<RunTrainingResult> {
  const backend = await selectBackend(options.backend);
  options.log.info({ backend: backend.name, reason: backend.reason, wasm: backend.wasm }, `backend: ${backend.name}`);
  const teacher = options.fromDir === undefined ? null : await loadTeacher(options.fromDir);
  let config: TeacherConfig;
  if (options.configPath !== undefined) config = await loadTeacherConfig(options.configPath);
  else if (teacher !== null) config = teacher.card.config;
  else throw new Error('Missing --config: a teacher config file is needed unless --from gives a teacher to fine-tune.');
  if (options.epochs !== undefined) config = { ...config, training: { ...config.training, epochs: options.epochs } };

  const store = await DatasetStore.open(options.storeDir, { readOnly: true });
  try {
    const manifest = store.getSnapshot(options.snapshot);
    const heads: HeadSpec[] = teacher !== null ? teacher.card.heads : buildHeadSpecs(store, manifest.version, config.heads);
    const input = inputSpecOf(config);
    const headNames = heads.map((head) => head.name);
    const load = (split: 'train' | 'val'): Promise<LoadedSample[]> =>
      loadSamples(store, manifest.version, { split, width: input.width, height: input.height, heads: headNames });
    let train = await load('train');
    const val = await load('val');
    let mix: { fresh: number; replayed: number } | undefined;
    if (teacher !== null) {
      const replay = options.replay ?? 0.3;
      const mixed = mixReplay(train, manifest.version, replay, config.training.seed);
      train = mixed.mixed;
      mix = mixed;
      options.log.info({ newSamples: mixed.fresh, replayed: mixed.replayed, replay }, 'fine-tuning set');
    }
    options.log.info({ snapshot: manifest.version, train: train.length, val: val.length }, 'samples loaded');

    const trainOptions = {
      config,
      heads,
      input,
      train,
      val,
      outDir: options.outDir,
      log: options.log,
      dataKey: JSON.stringify({ snapshot: manifest.manifestHash, from: options.fromDir ?? null, replay: options.replay ?? null }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
      ...(teacher === null ? {} : { initialModel: teacher.model }),
      ...(options.maxEpochsThisRun === undefined ? {} : { maxEpochsThisRun: options.maxEpochsThisRun }),
    };
    const result = await trainTeacher(trainOptions);
    result.model.dispose();
    teacher?.model.dispose();

    const best = await loadLayersModel(options.outDir);
    const valOutputs = predictOutputs(best, val, heads, input, config.training.batchSize);
    best.dispose();
    const validation = evaluateOutputs(heads, val, valOutputs);
    const baseline = evaluateOutputs(heads, val, baselineOutputs(heads, train, val.length));
    const metrics: ModelCard['metrics'] = {};
    for (const head of heads) {
      const model = validation.heads[head.name];
      const trivial = baseline.heads[head.name];
      if (model !== undefined && trivial !== undefined) metrics[head.name] = { model: flattenHeadMetric(model), baseline: flattenHeadMetric(trivial) };
    }
    const card: ModelCard = {
      format: 'fieldloop-teacher-card',
      version: 1,
      createdAt: new Date().toISOString(),
      heads,
      input,
      outputs: heads.map((head) => head.name),
      data: {
        storeDir: store.dir,
        snapshotVersion: manifest.version,
        manifestHash: manifest.manifestHash,
        samples: { train: train.length, val: val.length },
      },
      metrics,
      backend: { name: backend.name, tfBackend: backend.tfBackend, reason: backend.reason, versions: backend.versions },
      training: {
        seconds: Math.round(result.state.elapsedSeconds * 10) / 10,
        epochs: result.state.epoch,
        bestEpoch: result.state.bestEpoch,
        stoppedEarly: result.stoppedEarly,
        ...(result.logVariances === undefined ? {} : { logVariances: result.logVariances }),
        ...(options.fromDir === undefined ? {} : { fineTunedFrom: { dir: options.fromDir, replay: options.replay ?? 0.3 } }),
      },
      config,
    };
    await writeModelCard(options.outDir, card);
    const { model: _model, validation: _validation, ...training } = result;
    const output: RunTrainingResult = { card, backend, training, validation, baseline };
    if (mix !== undefined) {
      const isNew = val.map((sample) => sample.addedIn === manifest.version);
      const pick = (wanted: boolean): number[] => isNew.flatMap((flag, index) => (flag === wanted ? [index] : []));
      const slice = (indices: number[]): EvaluationReport =>
        evaluateOutputs(
          heads,
          indices.map((i) => val[i]!),
          Object.fromEntries(Object.entries(valOutputs).map(([name, rows]) => [name, indices.map((i) => rows[i] ?? [])])),
        );
      output.fineTune = { newSamples: slice(pick(true)), earlierSamples: slice(pick(false)), trainNew: mix.fresh, trainReplay: mix.replayed };
    }
    return output;
  } finally {
    await store.close();
  }
}
