import { createPrivateKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync } from 'mqtt';
import type { Logger } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { runDistillation } from '@fieldloop/distill';
import { trustedKeysFrom } from '@fieldloop/edge-runtime';
import { loadMapping, startEmbeddedBroker } from '@fieldloop/ros-bridge';
import { runTraining, type BackendName } from '@fieldloop/trainer';
import { decideGate } from '../gate/decide-gate.ts';
import { DEFAULT_GATE_POLICY, type GatePolicy } from '../gate/gate-policy.ts';
import type { LoopReport, RoundRecord } from '../report/loop-report.ts';
import { renderReport } from '../report/render-report.ts';
import { loadDataConfig, type DataConfig, type DataSource } from './data-config.ts';
import { evaluateExportedModel } from './evaluate-exported-model.ts';
import { ensureBuiltInData, ingestSources, loadOrCreateKeys, probeFrames, SIM_FLEET, startSimCollector, startSimRobot, waitForCollector } from './loop-resources.ts';
import { publishToFleet } from './publish-to-fleet.ts';
import type { SimulatedRobot } from './simulated-robot.ts';
import { teacherEvaluation } from './teacher-evaluation.ts';

/** Repository root, found from this file's place in `tools/src/loop`. */
export const REPO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface RunLoopOptions {
  out: string;
  /** Folder of real recordings; null runs on the built-in procedural data. */
  dataDir: string | null;
  /** Data config; default `configs/data/shared-data.yaml` with `dataDir`, else `configs/data/sim.yaml`. */
  dataConfig?: string;
  /** Teacher config; default `packages/trainer/configs/teacher.yaml` with `dataDir`, else `teacher-sim.yaml`. */
  teacherConfig?: string;
  /** Rounds in all: round 0 trains the base model, each later round learns from the fleet. */
  rounds: number;
  teacherEpochs?: number;
  distillEpochs?: number;
  backend?: BackendName;
  /** The gate's limits, or a function giving them per round (for example stricter after round 0). */
  policy?: GatePolicy | ((round: number) => GatePolicy);
  log: Logger;
}

export interface LoopResult {
  report: LoopReport;
  reportHtml: string;
  reportJson: string;
}

/**
 * Runs rounds of the closed loop in this process with embedded defaults: an aedes broker, the
 * SQLite data set store, and robots of a simulated fleet that run the real edge runtime. Round 0
 * ingests the base data, trains the teacher, distills and exports the int8 student, gates it and
 * publishes it (canary first). Each later round replays the fleet's recordings on the robots,
 * collects what their triggers captured as a field batch, fine-tunes the teacher with replay of
 * earlier data, re-distills, and publishes only when the gate finds no regression.
 */
export async function runLoop(options: RunLoopOptions): Promise<LoopResult> {
  const { out, log } = options;
  const policyFor = (round: number): GatePolicy =>
    typeof options.policy === 'function' ? options.policy(round) : (options.policy ?? DEFAULT_GATE_POLICY);
  await mkdir(out, { recursive: true });
  let dataDir = options.dataDir;
  if (dataDir === null) {
    dataDir = join(out, 'sim');
    await ensureBuiltInData(dataDir, log);
  }
  const config: DataConfig = await loadDataConfig(
    options.dataConfig ?? join(REPO_DIR, 'configs', 'data', options.dataDir ? 'shared-data.yaml' : 'sim.yaml'),
    dataDir,
    REPO_DIR,
  );
  const teacherConfig = options.teacherConfig ?? join(REPO_DIR, 'packages', 'trainer', 'configs', options.dataDir ? 'teacher.yaml' : 'teacher-sim.yaml');
  const storeDir = join(out, 'store');
  const keys = await loadOrCreateKeys(join(out, 'keys', 'release-signing-key.json'));
  const privateKey = createPrivateKey(keys.privateKeyPem);
  const trustedKeys = trustedKeysFrom([keys.publicKeyPem]);

  const broker = await startEmbeddedBroker();
  log.info({ url: broker.url }, 'embedded MQTT broker (aedes) started');
  const client = await connectAsync(broker.url, { clientId: 'fieldloop-release', protocolVersion: 4 });
  const collector = await startSimCollector({ brokerUrl: broker.url, storeDir, statePath: join(out, 'collector.sqlite'), log });
  const robotIds = Array.from({ length: config.fleet.robots }, (_, i) => `robot-${i + 1}`);
  const robots: SimulatedRobot[] = [];
  const report: LoopReport = { title: 'fieldloop closed-loop rounds', generatedAt: new Date().toISOString(), rounds: [] };
  try {
    let snapshot = await ingestSources(config.base, storeDir, 'base data', log);
    let previousTeacher: string | null = null;
    let deployed: { file: string; version: number } | null = null;
    let version = 0;
    for (let round = 0; round < options.rounds; round += 1) {
      const started = Date.now();
      const roundDir = join(out, `round-${round}`);
      const fieldSamples: Record<string, number> = {};
      if (round > 0) {
        if (!deployed) {
          log.warn({ round }, 'no model was ever published, so the fleet has nothing to run; stopping before this round');
          break;
        }
        for (const [index, robot] of robots.entries()) {
          const recordings = config.fleet.recordings.filter((_, i) => i % robots.length === index);
          const mapped = await Promise.all(recordings.map(async (r) => ({ path: r.path, mapping: await loadMapping(r.mapping) })));
          const stats = await robot.replay(mapped);
          log.info({ robot: robotIds[index], ...stats }, 'robot replayed its recordings');
        }
        await waitForCollector(collector, robots.reduce((sum, robot) => sum + robot.acknowledgedMessages, 0));
        const batch = await collector.flush();
        if (!batch) throw new Error('the fleet sent no samples home; lower the campaign thresholds or replay more recordings');
        Object.assign(fieldSamples, batch.perRobot);
        const store = await DatasetStore.open(storeDir, { readOnly: true });
        try {
          snapshot = store.getSnapshot(batch.version);
        } finally {
          await store.close();
        }
        log.info({ version: snapshot.version, added: batch.added }, 'field batch committed');
      }

      const training = await runTraining({
        storeDir,
        snapshot: snapshot.version,
        configPath: previousTeacher ? undefined : teacherConfig,
        fromDir: previousTeacher ?? undefined,
        replay: previousTeacher ? 0.5 : undefined,
        outDir: join(roundDir, 'teacher'),
        backend: options.backend,
        epochs: options.teacherEpochs,
        log,
      });
      const teacherDir = join(roundDir, 'teacher');
      const distilled = await runDistillation({
        teacherDir,
        storeDir,
        snapshot: snapshot.version,
        outDir: join(roundDir, 'student'),
        epochs: options.distillEpochs,
        latencyRuns: 30,
        log,
      });
      const candidateVersion = version + 1;
      const heads = training.card.heads;
      const input = training.card.input;
      const scored = await evaluateExportedModel({
        file: distilled.files.int8.path,
        label: `candidate v${candidateVersion}`,
        heads,
        input,
        storeDir,
        snapshot: snapshot.version,
        split: 'val',
      });
      const deployedScores = deployed
        ? await evaluateExportedModel({ file: deployed.file, label: `deployed v${deployed.version}`, heads, input, storeDir, snapshot: snapshot.version, split: 'val' })
        : null;
      const gate = decideGate(scored.evaluation, deployedScores?.evaluation ?? null, policyFor(round));
      log.info({ round, publish: gate.publish, reasons: gate.reasons }, gate.publish ? 'gate passed' : 'gate blocked the candidate');

      let publishedVersion: number | null = null;
      if (gate.publish) {
        if (robots.length === 0) {
          for (const robot of robotIds) {
            const probes = await probeFrames(storeDir, snapshot.version, 3);
            robots.push(await startSimRobot({ robot, brokerUrl: broker.url, workDir: join(out, 'robots', robot), trustedKeys, probes, log }));
          }
        }
        await publishToFleet({
          client,
          fleet: SIM_FLEET,
          bundleDir: join(roundDir, 'bundle'),
          modelFile: distilled.files.int8.path,
          version: candidateVersion,
          heads,
          input,
          snapshotHash: snapshot.manifestHash,
          privateKey,
          robots,
          robotIds,
          log,
        });
        version = candidateVersion;
        publishedVersion = version;
        deployed = { file: distilled.files.int8.path, version };
      }
      previousTeacher = teacherDir;

      const record: RoundRecord = {
        round,
        startedAt: new Date(started).toISOString(),
        durationSeconds: (Date.now() - started) / 1000,
        snapshot: { version: snapshot.version, manifestHash: snapshot.manifestHash, stats: snapshot.stats },
        teacherLoss: Object.fromEntries(heads.map((h) => [h.name, training.training.history.map((e) => e.trainLossPerHead[h.name] ?? Number.NaN)])),
        studentLoss: { total: distilled.epochLosses },
        teacher: teacherEvaluation('teacher (float)', distilled.heads),
        candidate: scored.evaluation,
        deployed: deployedScores?.evaluation ?? null,
        confusion: scored.confusion,
        latencySamplesMs: { [`candidate v${candidateVersion} (tfjs-tflite)`]: scored.latencySamplesMs, ...(deployedScores ? { [deployedScores.evaluation.label]: deployedScores.latencySamplesMs } : {}) },
        gate,
        publishedVersion,
        fieldSamples,
        fleetVersions: Object.fromEntries(robots.map((robot, index) => [robotIds[index] as string, robot.modelVersion])),
      };
      report.rounds.push(record);
      await writeFile(join(out, 'report.json'), JSON.stringify(report, null, 2));
      await writeFile(join(out, 'report.html'), renderReport(report));
    }
  } finally {
    for (const robot of robots) await robot.stop();
    await collector.close();
    await client.endAsync();
    await broker.close();
  }
  return { report, reportHtml: join(out, 'report.html'), reportJson: join(out, 'report.json') };
}
