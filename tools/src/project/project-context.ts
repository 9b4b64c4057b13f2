import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, SnapshotManifest } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { writeFileAtomic } from '@fieldloop/distill';
import { loadDataConfig, type DataConfig } from '../loop/data-config.ts';
import { REPO_DIR } from '../repo-dir.ts';
import type { ProjectConfig } from './project-config.ts';
import type { ProjectPaths, StageName } from './project-paths.ts';
import type { RoundBasis } from './stage-record.ts';

/** Inputs every stage of a project-mode round gets: its config, its directory and the logger. */
export interface ProjectContext {
  config: ProjectConfig;
  paths: ProjectPaths;
  log: Logger;
}

/** Returns the project's data folder: the configured one, or the procedural data in the project directory. */
export function dataDirOf(context: ProjectContext): string {
  return context.config.data ?? context.paths.sim;
}

export function dataConfigOf(context: ProjectContext): Promise<DataConfig> {
  return loadDataConfig(context.config.dataConfig, dataDirOf(context), REPO_DIR);
}

const BASIS_FILE = 'basis.json';

/**
 * Makes a stage's folder ready for `basis`. Work left there for the same snapshot and baseline,
 * such as a checkpoint of a killed run, is kept so the stage resumes. Work for another round is removed.
 */
export async function prepareStageDir(paths: ProjectPaths, stage: StageName, basis: RoundBasis): Promise<string> {
  const dir = paths.stage(stage);
  const file = join(dir, BASIS_FILE);
  const expected = JSON.stringify(basis);
  const existing = existsSync(file) ? await readFile(file, 'utf8') : null;
  if (existing !== expected) {
    await rm(dir, { recursive: true, force: true });
    await writeFileAtomic(file, new TextEncoder().encode(expected));
  }
  return dir;
}

/** Records how long a stage took, beside its record and outside what Nx hashes. */
export async function writeStageTiming(paths: ProjectPaths, stage: StageName, startedAt: number): Promise<void> {
  const timing = { startedAt: new Date(startedAt).toISOString(), seconds: (Date.now() - startedAt) / 1000 };
  await writeFileAtomic(join(paths.stage(stage), 'timing.json'), new TextEncoder().encode(JSON.stringify(timing)));
}

export async function readStageSeconds(paths: ProjectPaths, stage: StageName): Promise<number> {
  const file = join(paths.stage(stage), 'timing.json');
  if (!existsSync(file)) return 0;
  return (JSON.parse(await readFile(file, 'utf8')) as { seconds: number }).seconds;
}

/** Returns the newest snapshot of a store, or null when it has none. */
export async function latestSnapshotOf(storeDir: string): Promise<SnapshotManifest | null> {
  const store = await DatasetStore.open(storeDir, { readOnly: true });
  try {
    return store.latestSnapshot();
  } finally {
    await store.close();
  }
}
