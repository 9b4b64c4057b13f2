import type { CliContext } from '@fieldloop/contracts';
import type { GateDecision } from '../gate/decide-gate.ts';
import type { LoopReport } from '../report/loop-report.ts';
import type { ProjectContext } from './project-context.ts';
import type { StageRecord } from './stage-record.ts';
import { distillStage } from './stages/distill-stage.ts';
import { evaluateStage } from './stages/evaluate-stage.ts';
import { exportStage } from './stages/export-stage.ts';
import { gateStage } from './stages/gate-stage.ts';
import { ingestStage, type IngestStageResult } from './stages/ingest-stage.ts';
import { publishStage, type PublishStageResult } from './stages/publish-stage.ts';
import { reportStage, type ReportStageResult } from './stages/report-stage.ts';
import { trainStage } from './stages/train-stage.ts';

export interface RoundRun {
  ingest: StageRecord<IngestStageResult>;
  gate: StageRecord<GateDecision>;
  publish: StageRecord<PublishStageResult>;
  report: { record: StageRecord<ReportStageResult>; report: LoopReport };
}

/**
 * Runs every stage of one project-mode round in this process, in the order the Nx targets of
 * `tools:loop` run them: ingest, train, distill, export, evaluate, gate, publish and report.
 */
export async function runRound(context: ProjectContext, cli: CliContext): Promise<RoundRun> {
  const ingest = await ingestStage(context);
  await trainStage(context);
  await distillStage(context);
  await exportStage(context, cli);
  await evaluateStage(context);
  const gate = await gateStage(context);
  const publish = await publishStage(context);
  const report = await reportStage(context);
  return { ingest, gate, publish, report };
}
