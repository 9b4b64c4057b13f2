import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import { loadModelDir } from '@fieldloop/distill';
import type { ModelEvaluation } from '../../gate/evaluation.ts';
import { evaluateExportedModel } from '../../loop/evaluate-exported-model.ts';
import { teacherEvaluation } from '../../loop/teacher-evaluation.ts';
import type { ConfusionMatrix } from '../../report/loop-report.ts';
import { prepareStageDir, writeStageTiming, type ProjectContext } from '../project-context.ts';
import { readBaselineRelease } from '../release-registry.ts';
import { readStageOfRound, readStageRecord, writeStageRecord, type StageRecord } from '../stage-record.ts';
import type { DistillStageResult } from './distill-stage.ts';
import type { ExportStageResult } from './export-stage.ts';

export interface EvaluateStageResult {
  heads: HeadSpec[];
  input: InputSpec;
  candidate: ModelEvaluation;
  /** The baseline release's model file on the same samples, or null in round 0. */
  deployed: ModelEvaluation | null;
  teacher: ModelEvaluation;
  confusion: Record<string, ConfusionMatrix>;
  latencySamplesMs: Record<string, number[]>;
}

/**
 * Scores the exported int8 file itself, and the baseline release's file, at batch 1 on the basis
 * snapshot's test split, per head and scenario tag, with latency and size. The test split is
 * the one no stage before has seen: training picks the teacher's best epoch on the val split.
 */
export async function evaluateStage(context: ProjectContext): Promise<StageRecord<EvaluateStageResult>> {
  const started = Date.now();
  const { paths } = context;
  const { basis } = await readStageRecord(paths, 'ingest');
  const exported = await readStageOfRound<ExportStageResult>(paths, 'export', basis);
  const distilled = await readStageOfRound<DistillStageResult>(paths, 'distill', basis);
  await prepareStageDir(paths, 'evaluate', basis);
  const { model, card } = await loadModelDir(distilled.result.studentDir);
  model.dispose();
  const common = { heads: card.heads, input: card.input, storeDir: paths.store, snapshot: basis.snapshot.version, split: 'test' as const };
  const candidateLabel = `candidate of round ${basis.round}`;
  const scored = await evaluateExportedModel({ ...common, file: exported.result.int8.file, label: candidateLabel });
  const baseline = await readBaselineRelease(paths, basis.baseline);
  const deployed = baseline ? await evaluateExportedModel({ ...common, file: baseline.modelFile, label: `deployed v${baseline.version}` }) : null;
  const record: StageRecord<EvaluateStageResult> = {
    stage: 'evaluate',
    basis,
    result: {
      heads: card.heads,
      input: card.input,
      candidate: scored.evaluation,
      deployed: deployed?.evaluation ?? null,
      teacher: teacherEvaluation('teacher (float)', distilled.result.heads),
      confusion: scored.confusion,
      latencySamplesMs: { [`${candidateLabel} (tfjs-tflite)`]: scored.latencySamplesMs, ...(deployed && baseline ? { [`deployed v${baseline.version}`]: deployed.latencySamplesMs } : {}) },
    },
  };
  await writeStageRecord(paths, record);
  await writeStageTiming(paths, 'evaluate', started);
  return record;
}
