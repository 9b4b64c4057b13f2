import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex, type CliContext } from '@fieldloop/contracts';
import { exportCommand } from '@fieldloop/distill';
import { prepareStageDir, writeStageTiming, type ProjectContext } from '../project-context.ts';
import { readStageOfRound, readStageRecord, writeStageRecord, type StageRecord } from '../stage-record.ts';
import type { DistillStageResult } from './distill-stage.ts';

export interface ExportedFile {
  file: string;
  sha256: string;
  bytes: number;
}

export interface ExportStageResult {
  float32: ExportedFile;
  /** The candidate robots would run: full-integer int8, calibrated on the basis snapshot's train split. */
  int8: ExportedFile;
}

async function describe(file: string): Promise<ExportedFile> {
  const bytes = await readFile(file);
  return { file, sha256: sha256Hex(bytes), bytes: bytes.length };
}

/** Exports the round's student as float32 and int8 TFLite files with `fieldloop export`. */
export async function exportStage(context: ProjectContext, cli: CliContext): Promise<StageRecord<ExportStageResult>> {
  const started = Date.now();
  const { paths } = context;
  const { basis } = await readStageRecord(paths, 'ingest');
  const distilled = await readStageOfRound<DistillStageResult>(paths, 'distill', basis);
  const dir = await prepareStageDir(paths, 'export', basis);
  const files = { float32: join(dir, 'student.tflite'), int8: join(dir, 'student-int8.tflite') };
  for (const [kind, out] of Object.entries(files)) {
    const options = { model: distilled.result.studentDir, out, int8: kind === 'int8', calibrationStore: paths.store, snapshot: String(basis.snapshot.version), calibrationSamples: '100' };
    const result = await exportCommand.run([], options, cli);
    if (result.exitCode !== 0) throw new Error(`exporting ${distilled.result.studentDir} as ${kind} failed: ${result.text}`);
  }
  const record: StageRecord<ExportStageResult> = { stage: 'export', basis, result: { float32: await describe(files.float32), int8: await describe(files.int8) } };
  await writeStageRecord(paths, record);
  await writeStageTiming(paths, 'export', started);
  return record;
}
