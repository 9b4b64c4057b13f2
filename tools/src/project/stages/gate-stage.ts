import { decideGate, type GateDecision } from '../../gate/decide-gate.ts';
import { prepareStageDir, writeStageTiming, type ProjectContext } from '../project-context.ts';
import { readStageOfRound, readStageRecord, writeStageRecord, type StageRecord } from '../stage-record.ts';
import type { EvaluateStageResult } from './evaluate-stage.ts';

/** Decides from the evaluation whether the candidate may replace the deployed model. */
export async function gateStage(context: ProjectContext): Promise<StageRecord<GateDecision>> {
  const started = Date.now();
  const { paths, log } = context;
  const { basis } = await readStageRecord(paths, 'ingest');
  const evaluated = await readStageOfRound<EvaluateStageResult>(paths, 'evaluate', basis);
  await prepareStageDir(paths, 'gate', basis);
  const decision = decideGate(evaluated.result.candidate, evaluated.result.deployed, context.config.gate);
  log.info({ round: basis.round, publish: decision.publish, reasons: decision.reasons }, decision.publish ? 'gate passed' : 'gate blocked the candidate');
  const record: StageRecord<GateDecision> = { stage: 'gate', basis, result: decision };
  await writeStageRecord(paths, record);
  await writeStageTiming(paths, 'gate', started);
  return record;
}
