import { join } from 'node:path';
import { runDistillation, type DistillReport } from '@fieldloop/distill';
import { selectBackend } from '@fieldloop/trainer';
import { prepareStageDir, writeStageTiming, type ProjectContext } from '../project-context.ts';
import { readStageOfRound, readStageRecord, writeStageRecord, type StageRecord } from '../stage-record.ts';
import type { TrainStageResult } from './train-stage.ts';

export interface DistillStageResult {
  studentDir: string;
  teacherDir: string;
  parameters: { teacher: number; student: number };
  epochLosses: number[];
  heads: DistillReport['heads'];
}

/** Distills the round's teacher into the student on the basis snapshot. */
export async function distillStage(context: ProjectContext): Promise<StageRecord<DistillStageResult>> {
  const started = Date.now();
  const { paths, config, log } = context;
  const { basis } = await readStageRecord(paths, 'ingest');
  const train = await readStageOfRound<TrainStageResult>(paths, 'train', basis);
  const dir = await prepareStageDir(paths, 'distill', basis);
  // The student trains on the teacher's backends; on wasm that needs the gradient kernels selectBackend registers.
  const backend = await selectBackend(config.backend);
  log.info({ backend: backend.name, reason: backend.reason }, `backend: ${backend.name}`);
  const report = await runDistillation({
    teacherDir: train.result.teacherDir,
    storeDir: paths.store,
    snapshot: basis.snapshot.version,
    outDir: dir,
    epochs: config.distillEpochs,
    latencyRuns: 30,
    log,
  });
  const record: StageRecord<DistillStageResult> = {
    stage: 'distill',
    basis,
    result: {
      studentDir: join(dir, 'student'),
      teacherDir: train.result.teacherDir,
      parameters: { teacher: report.teacher.parameters, student: report.student.parameters },
      epochLosses: report.epochLosses,
      heads: report.heads,
    },
  };
  await writeStageRecord(paths, record);
  await writeStageTiming(paths, 'distill', started);
  return record;
}
