import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTraining } from '@fieldloop/trainer';
import { prepareStageDir, writeStageTiming, type ProjectContext } from '../project-context.ts';
import { readBaselineRelease } from '../release-registry.ts';
import { readStageRecord, writeStageRecord, type StageRecord } from '../stage-record.ts';

export interface TrainStageResult {
  teacherDir: string;
  /** The teacher fine-tuned from, or null when trained from the config. */
  fromRelease: number | null;
  metrics: Record<string, unknown>;
  /** Train loss per epoch and head. */
  lossPerHead: Record<string, number[]>;
}

/**
 * Reads the train loss per head and epoch from the teacher's `metrics.jsonl`, which covers every
 * epoch, also those before a resume. The last line of an epoch wins.
 */
async function lossPerHead(teacherDir: string, heads: readonly string[]): Promise<Record<string, number[]>> {
  const byEpoch = new Map<number, Record<string, number>>();
  for (const line of (await readFile(join(teacherDir, 'metrics.jsonl'), 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { epoch?: number; trainLossPerHead?: Record<string, number> };
    if (typeof record.epoch === 'number' && record.trainLossPerHead) byEpoch.set(record.epoch, record.trainLossPerHead);
  }
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  return Object.fromEntries(heads.map((head) => [head, epochs.map((epoch) => byEpoch.get(epoch)?.[head] ?? Number.NaN)]));
}

/**
 * Trains the round's teacher on the basis snapshot: from the teacher config in round 0, and by
 * fine-tuning the baseline release's teacher with replay of earlier samples after that. A run
 * killed in the middle resumes from its last epoch's checkpoint.
 */
export async function trainStage(context: ProjectContext): Promise<StageRecord<TrainStageResult>> {
  const started = Date.now();
  const { paths, config, log } = context;
  const { basis } = await readStageRecord(paths, 'ingest');
  const dir = await prepareStageDir(paths, 'train', basis);
  const teacherDir = join(dir, 'teacher');
  const from = await readBaselineRelease(paths, basis.baseline);
  log.info({ round: basis.round, snapshot: basis.snapshot.version, from: from?.version ?? null }, from ? `fine-tuning the teacher of v${from.version}` : 'training the teacher from its config');
  const training = await runTraining({
    storeDir: paths.store,
    snapshot: basis.snapshot.version,
    configPath: from ? undefined : config.teacherConfig,
    fromDir: from?.teacherDir,
    replay: from ? config.replay : undefined,
    outDir: teacherDir,
    backend: config.backend,
    epochs: config.teacherEpochs,
    log,
  });
  const heads = training.card.heads.map((head) => head.name);
  const record: StageRecord<TrainStageResult> = {
    stage: 'train',
    basis,
    result: {
      teacherDir,
      fromRelease: from?.version ?? null,
      metrics: training.card.metrics,
      lossPerHead: await lossPerHead(teacherDir, heads),
    },
  };
  await writeStageRecord(paths, record);
  await writeStageTiming(paths, 'train', started);
  return record;
}
