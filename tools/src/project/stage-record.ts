import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@fieldloop/distill';
import type { ProjectPaths, StageName } from './project-paths.ts';

/** The snapshot a round trains on and the release it is measured against. */
export interface RoundBasis {
  round: number;
  snapshot: { version: number; manifestHash: string; samples: number };
  /** The newest release trained on another snapshot: fine-tuning starts from its teacher and the gate compares with it. */
  baseline: { version: number; snapshotHash: string; modelSha256: string } | null;
}

/**
 * What one stage wrote, read by the stages after it. Its file `stage.json` is what Nx hashes
 * for the next stages' cache keys, so it contains content only, no times or durations.
 */
export interface StageRecord<T = Record<string, unknown>> {
  stage: StageName;
  basis: RoundBasis;
  result: T;
}

export const STAGE_RECORD_FILE = 'stage.json';

export async function writeStageRecord<T>(paths: ProjectPaths, record: StageRecord<T>): Promise<void> {
  await writeFileAtomic(join(paths.stage(record.stage), STAGE_RECORD_FILE), new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`));
}

/** Reads the record of a stage that must have run, or throws an error naming the target to run first. */
export async function readStageRecord<T>(paths: ProjectPaths, stage: StageName): Promise<StageRecord<T>> {
  const file = join(paths.stage(stage), STAGE_RECORD_FILE);
  if (!existsSync(file)) {
    throw new Error(`the ${stage} stage has not run in ${paths.dir} (no ${file}); run it first: npx nx run tools:loop, or fieldloop project ${stage}`);
  }
  return JSON.parse(await readFile(file, 'utf8')) as StageRecord<T>;
}

/**
 * Reads the record of an earlier stage and checks it belongs to the same round as `basis`, so a
 * stage never mixes artifacts of two rounds.
 */
export async function readStageOfRound<T>(paths: ProjectPaths, stage: StageName, basis: RoundBasis): Promise<StageRecord<T>> {
  const record = await readStageRecord<T>(paths, stage);
  if (record.basis.snapshot.manifestHash !== basis.snapshot.manifestHash) {
    throw new Error(
      `the ${stage} stage in ${paths.dir} was made for snapshot v${record.basis.snapshot.version}, but this round is on ` +
        `v${basis.snapshot.version}; run the stages in order (npx nx run tools:loop runs them with their dependencies)`,
    );
  }
  return record;
}
