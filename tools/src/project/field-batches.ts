import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@fieldloop/distill';
import type { ProjectPaths } from './project-paths.ts';

/** A field batch the simulated fleet sent home. */
export interface FieldBatchRecord {
  snapshotVersion: number;
  /** The release the robots served while they captured it. */
  servedVersion: number;
  perRobot: Record<string, number>;
  added: number;
}

function file(paths: ProjectPaths): string {
  return join(paths.dir, 'fleet', 'field-batches.json');
}

export async function readFieldBatches(paths: ProjectPaths): Promise<FieldBatchRecord[]> {
  return existsSync(file(paths)) ? (JSON.parse(await readFile(file(paths), 'utf8')) as FieldBatchRecord[]) : [];
}

export async function appendFieldBatch(paths: ProjectPaths, batch: FieldBatchRecord): Promise<void> {
  const batches = await readFieldBatches(paths);
  await writeFileAtomic(file(paths), new TextEncoder().encode(`${JSON.stringify([...batches, batch], null, 2)}\n`));
}
