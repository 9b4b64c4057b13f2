import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { CliContext } from '@fieldloop/contracts';
import type { BackendName } from '@fieldloop/trainer';
import type { GatePolicy } from '../gate/gate-policy.ts';
import { loadProjectConfig } from '../project/project-config.ts';
import type { ProjectContext } from '../project/project-context.ts';
import { projectPaths } from '../project/project-paths.ts';
import { deployedRelease, readReleases } from '../project/release-registry.ts';
import { runRound } from '../project/run-round.ts';
import { fleetStage } from '../project/stages/fleet-stage.ts';
import type { LoopReport } from '../report/loop-report.ts';
import { REPO_DIR } from '../repo-dir.ts';

export interface RunLoopOptions {
  /** Project directory: the store, the releases, the robots' state and each stage's artifacts. */
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
  /** Gate limits that differ from the defaults. */
  gate?: Partial<GatePolicy>;
}

export interface LoopResult {
  report: LoopReport;
  reportHtml: string;
  reportJson: string;
  /** The project config this run wrote, with which `fieldloop project STAGE --dir OUT` continues it. */
  configFile: string;
}

/**
 * Runs rounds of the closed loop in this process: the project-mode stages in `out`, with the
 * fleet stage before every round that has a deployed release to learn from. A second run on the
 * same `out` continues the project. Round 0 ingests the base data, trains the teacher, distills and
 * exports the int8 student, gates it and publishes it (canary first) to a simulated fleet whose
 * robots run the real edge runtime behind an embedded aedes broker. Before each later round the
 * robots replay the fleet's recordings, and the collector commits what their triggers captured as
 * a field batch. The round then fine-tunes the baseline release's teacher with replay and
 * re-distills. It publishes only when the gate finds no regression.
 */
export async function runLoop(options: RunLoopOptions, cli: CliContext): Promise<LoopResult> {
  const { out } = options;
  const { log } = cli;
  await mkdir(out, { recursive: true }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw error;
    throw new Error(`--out ${out} is a file, or lies below one, so it cannot be the project directory; choose another path`, { cause: error });
  });
  const configFile = join(out, 'project.yaml');
  const config = {
    data: options.dataDir,
    dataConfig: options.dataConfig ?? join(REPO_DIR, 'configs', 'data', options.dataDir ? 'shared-data.yaml' : 'sim.yaml'),
    teacherConfig: options.teacherConfig ?? join(REPO_DIR, 'packages', 'trainer', 'configs', options.dataDir ? 'teacher.yaml' : 'teacher-sim.yaml'),
    teacherEpochs: options.teacherEpochs ?? null,
    distillEpochs: options.distillEpochs ?? null,
    replay: 0.5,
    backend: options.backend ?? null,
    gate: options.gate ?? {},
  };
  const header = '# Written by `fieldloop loop`; `fieldloop project STAGE --dir <this folder> --config <this file>` continues the project.\n';
  await writeFile(configFile, header + stringify(config));
  const context: ProjectContext = { config: await loadProjectConfig(configFile, REPO_DIR), paths: projectPaths(out), log };
  let last: Awaited<ReturnType<typeof runRound>> | null = null;
  for (let round = 0; round < options.rounds; round += 1) {
    // A project with a deployed release learns from the fleet first. This is also how a run
    // continues a project that an earlier run left.
    if (deployedRelease(await readReleases(context.paths))) {
      const batch = await fleetStage(context);
      if (!batch) throw new Error('the fleet sent no samples home; lower the campaign thresholds or replay more recordings');
    } else if (round > 0) {
      log.warn({ round }, 'no model was ever published, so the fleet has nothing to run; stopping before this round');
      break;
    }
    last = await runRound(context, cli);
  }
  if (!last) throw new Error(`--rounds must be at least 1, got ${options.rounds}`);
  const { record, report } = last.report;
  return { report, reportHtml: record.result.html, reportJson: record.result.json, configFile };
}
