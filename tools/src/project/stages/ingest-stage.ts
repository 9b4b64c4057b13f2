import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@fieldloop/distill';
import { ensureBuiltInData, ingestSources } from '../../loop/loop-resources.ts';
import { fingerprint } from '../fingerprint.ts';
import { dataConfigOf, dataDirOf, latestSnapshotOf, writeStageTiming, type ProjectContext } from '../project-context.ts';
import { baselineRelease, readReleases } from '../release-registry.ts';
import { writeStageRecord, type RoundBasis, type StageRecord } from '../stage-record.ts';

export interface IngestStageResult {
  /** Each base source with the fingerprint of its bytes and of its mapping. */
  sources: Array<{ path: string; mapping: string; fingerprint: string }>;
  /**
   * Fingerprints of the project config, the data config and the teacher config. Every later
   * stage hashes this record, so editing one of them, wherever it lives, invalidates their caches.
   */
  configs: Record<string, string>;
}

/**
 * Ingests the base sources that are new or changed since the last ingest, then fixes the round's
 * basis: the store's newest snapshot (which includes the field batches the collector committed)
 * and the release to compare against. It runs on every `nx run tools:loop`, since field data
 * reaches the store outside Nx, and its record changes only when the basis does.
 */
export async function ingestStage(context: ProjectContext): Promise<StageRecord<IngestStageResult>> {
  const started = Date.now();
  const { paths, log } = context;
  if (context.config.data === null) await ensureBuiltInData(paths.sim, log);
  else if (!existsSync(context.config.data)) {
    throw new Error(`data folder ${context.config.data} (data in ${context.config.file}) does not exist; point data at real recordings or set it to null for the built-in data`);
  }
  if (!existsSync(context.config.teacherConfig)) {
    throw new Error(`teacher config ${context.config.teacherConfig} (teacherConfig in ${context.config.file}) does not exist; point it at a file such as packages/trainer/configs/teacher.yaml`);
  }
  const dataConfig = await dataConfigOf(context);
  const done = existsSync(paths.ingested) ? (JSON.parse(await readFile(paths.ingested, 'utf8')) as Record<string, string>) : {};
  const sources: IngestStageResult['sources'] = [];
  const pending = [];
  for (const source of dataConfig.base) {
    if (!existsSync(source.path)) throw new Error(`base source ${source.path} of ${context.config.dataConfig} does not exist under ${dataDirOf(context)}`);
    const print = `${await fingerprint(source.path)}:${await fingerprint(source.mapping)}`;
    sources.push({ path: source.path, mapping: source.mapping, fingerprint: print });
    if (done[`${source.path}|${source.mapping}`] !== print) pending.push(source);
  }
  if (pending.length > 0) {
    await ingestSources(pending, paths.store, 'project base data', log);
    for (const source of sources) done[`${source.path}|${source.mapping}`] = source.fingerprint;
    await writeFileAtomic(paths.ingested, new TextEncoder().encode(JSON.stringify(done, null, 2)));
  } else {
    log.info({ sources: sources.length }, 'base sources unchanged since their last ingest');
  }
  const head = await latestSnapshotOf(paths.store);
  if (!head) throw new Error(`store ${paths.store} has no snapshot after ingest; check the base sources of ${context.config.dataConfig}`);
  const baseline = baselineRelease(await readReleases(paths), head.manifestHash);
  const basis: RoundBasis = {
    round: baseline ? baseline.round + 1 : 0,
    snapshot: { version: head.version, manifestHash: head.manifestHash, samples: head.stats.samples },
    baseline: baseline ? { version: baseline.version, snapshotHash: baseline.snapshotHash, modelSha256: baseline.modelSha256 } : null,
  };
  const configs: Record<string, string> = {};
  for (const file of [context.config.file, context.config.dataConfig, context.config.teacherConfig]) configs[file] = await fingerprint(file);
  const record: StageRecord<IngestStageResult> = { stage: 'ingest', basis, result: { sources, configs } };
  await writeStageRecord(paths, record);
  await writeStageTiming(paths, 'ingest', started);
  log.info({ round: basis.round, snapshot: head.version, samples: head.stats.samples, baseline: basis.baseline?.version ?? null }, 'round basis fixed');
  return record;
}
