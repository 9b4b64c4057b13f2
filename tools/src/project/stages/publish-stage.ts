import { createPrivateKey } from 'node:crypto';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetStore } from '@fieldloop/dataset';
import { writeFileAtomic } from '@fieldloop/distill';
import type { GateDecision } from '../../gate/decide-gate.ts';
import { loadOrCreateKeys, SIM_FLEET } from '../../loop/loop-resources.ts';
import { publishToFleet } from '../../loop/publish-to-fleet.ts';
import type { RoundRecord } from '../../report/loop-report.ts';
import { readFieldBatches } from '../field-batches.ts';
import { prepareStageDir, readStageSeconds, writeStageTiming, type ProjectContext } from '../project-context.ts';
import { STAGES } from '../project-paths.ts';
import { appendRelease, readReleases, type Release } from '../release-registry.ts';
import { withSimulatedFleet } from '../simulated-fleet.ts';
import { readStageOfRound, readStageRecord, writeStageRecord, type StageRecord } from '../stage-record.ts';
import type { DistillStageResult } from './distill-stage.ts';
import type { EvaluateStageResult } from './evaluate-stage.ts';
import type { ExportStageResult } from './export-stage.ts';
import type { TrainStageResult } from './train-stage.ts';

export interface PublishStageResult {
  /** The version the round published, or null when the gate blocked it. */
  publishedVersion: number | null;
  reasons: string[];
  /** Model version each robot serves after this stage. */
  fleetVersions: Record<string, number | null>;
}

async function releaseCandidate(
  context: ProjectContext,
  records: { exported: ExportStageResult; train: TrainStageResult; evaluated: EvaluateStageResult },
  basisSnapshot: { version: number; manifestHash: string },
  round: number,
): Promise<Release> {
  const { exported, train, evaluated } = records;
  const { paths, log } = context;
  const releases = await readReleases(paths);
  const same = releases.find((release) => release.modelSha256 === exported.int8.sha256);
  if (same) {
    log.info({ version: same.version }, 'this candidate is already published');
    return same;
  }
  const version = (releases.at(-1)?.version ?? 0) + 1;
  const dir = paths.releaseDir(version);
  // A folder left by a publish killed before it was recorded is rebuilt from the start.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const teacherDir = join(dir, 'teacher');
  await cp(train.teacherDir, teacherDir, { recursive: true });
  const modelFile = join(dir, 'student-int8.tflite');
  await cp(exported.int8.file, modelFile);
  const keys = await loadOrCreateKeys(paths.keys);
  const bundleDir = join(dir, 'bundle');
  const fleetVersions = await withSimulatedFleet(context, { collector: false, probeSnapshot: basisSnapshot.version }, async (fleet) => {
    await publishToFleet({
      client: fleet.client,
      fleet: SIM_FLEET,
      bundleDir,
      modelFile,
      version,
      heads: evaluated.heads,
      input: evaluated.input,
      snapshotHash: basisSnapshot.manifestHash,
      privateKey: createPrivateKey(keys.privateKeyPem),
      robots: fleet.robots,
      robotIds: fleet.robotIds,
      log,
    });
    return fleet.robotIds.filter((_, index) => fleet.robots[index]?.modelVersion === version);
  });
  const release: Release = {
    version,
    round,
    snapshotVersion: basisSnapshot.version,
    snapshotHash: basisSnapshot.manifestHash,
    modelSha256: exported.int8.sha256,
    bundleDir,
    modelFile,
    teacherDir,
    publishedAt: new Date().toISOString(),
    robots: fleetVersions,
  };
  await appendRelease(paths, release);
  return release;
}

/**
 * Publishes the candidate when the gate passed: the teacher and int8 file are kept as release
 * vN, the signed bundle goes to the canary robot, then to the whole fleet, and the release is
 * recorded once every robot serves it. A blocked candidate leaves the fleet and the registry as
 * they were. Either way the round's record goes into the project history for the report.
 */
export async function publishStage(context: ProjectContext): Promise<StageRecord<PublishStageResult>> {
  const started = Date.now();
  const { paths } = context;
  const { basis } = await readStageRecord(paths, 'ingest');
  const gate = await readStageOfRound<GateDecision>(paths, 'gate', basis);
  const evaluated = await readStageOfRound<EvaluateStageResult>(paths, 'evaluate', basis);
  const exported = await readStageOfRound<ExportStageResult>(paths, 'export', basis);
  const distilled = await readStageOfRound<DistillStageResult>(paths, 'distill', basis);
  const train = await readStageOfRound<TrainStageResult>(paths, 'train', basis);
  await prepareStageDir(paths, 'publish', basis);
  const published = gate.result.publish ? await releaseCandidate(context, { exported: exported.result, train: train.result, evaluated: evaluated.result }, basis.snapshot, basis.round) : null;
  const releases = await readReleases(paths);
  const serving = releases.at(-1) ?? null;
  const robots = [...new Set(releases.flatMap((release) => release.robots))].sort();
  const fleetVersions = Object.fromEntries(robots.map((robot) => [robot, [...releases].reverse().find((r) => r.robots.includes(robot))?.version ?? null]));
  const result: PublishStageResult = { publishedVersion: published?.version ?? null, reasons: gate.result.reasons, fleetVersions };
  const record: StageRecord<PublishStageResult> = { stage: 'publish', basis, result };
  await writeStageRecord(paths, record);
  await writeStageTiming(paths, 'publish', started);

  const store = await DatasetStore.open(paths.store, { readOnly: true });
  let stats;
  try {
    stats = store.getSnapshot(basis.snapshot.version).stats;
  } finally {
    await store.close();
  }
  let seconds = 0;
  for (const stage of STAGES) seconds += await readStageSeconds(paths, stage);
  const batch = (await readFieldBatches(paths)).find((b) => b.snapshotVersion === basis.snapshot.version);
  const history: RoundRecord = {
    round: basis.round,
    startedAt: new Date(started - seconds * 1000).toISOString(),
    durationSeconds: seconds,
    snapshot: { version: basis.snapshot.version, manifestHash: basis.snapshot.manifestHash, stats },
    teacherLoss: train.result.lossPerHead,
    studentLoss: { total: distilled.result.epochLosses },
    teacher: evaluated.result.teacher,
    candidate: evaluated.result.candidate,
    deployed: evaluated.result.deployed,
    confusion: evaluated.result.confusion,
    latencySamplesMs: evaluated.result.latencySamplesMs,
    gate: gate.result,
    publishedVersion: result.publishedVersion,
    fieldSamples: batch?.perRobot ?? {},
    fleetVersions: serving ? fleetVersions : {},
  };
  await writeFileAtomic(join(paths.history, `snapshot-${String(basis.snapshot.version).padStart(6, '0')}.json`), new TextEncoder().encode(JSON.stringify(history, null, 2)));
  return record;
}
