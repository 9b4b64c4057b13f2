import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@fieldloop/distill';
import type { LoopReport, RoundRecord } from '../../report/loop-report.ts';
import { renderReport } from '../../report/render-report.ts';
import { prepareStageDir, type ProjectContext } from '../project-context.ts';
import { readStageOfRound, readStageRecord, writeStageRecord, type StageRecord } from '../stage-record.ts';
import type { PublishStageResult } from './publish-stage.ts';

export interface ReportStageResult {
  html: string;
  json: string;
  rounds: number;
}

/** Writes report.html and report.json over every round the project has run, oldest first. */
export async function reportStage(context: ProjectContext): Promise<{ record: StageRecord<ReportStageResult>; report: LoopReport }> {
  const { paths } = context;
  const { basis } = await readStageRecord(paths, 'ingest');
  await readStageOfRound<PublishStageResult>(paths, 'publish', basis);
  const dir = await prepareStageDir(paths, 'report', basis);
  const names = existsSync(paths.history) ? (await readdir(paths.history)).filter((name) => name.endsWith('.json')).sort() : [];
  const rounds: RoundRecord[] = [];
  for (const name of names) rounds.push(JSON.parse(await readFile(join(paths.history, name), 'utf8')) as RoundRecord);
  const report: LoopReport = { title: `fieldloop project rounds (${context.config.file})`, generatedAt: new Date().toISOString(), rounds };
  const html = join(dir, 'report.html');
  const json = join(dir, 'report.json');
  await writeFileAtomic(json, new TextEncoder().encode(JSON.stringify(report, null, 2)));
  await writeFileAtomic(html, new TextEncoder().encode(renderReport(report)));
  const record: StageRecord<ReportStageResult> = { stage: 'report', basis, result: { html, json, rounds: rounds.length } };
  await writeStageRecord(paths, record);
  return { record, report };
}
