import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CliCommand, CliContext, CliResult } from '@fieldloop/contracts';
import type { HeadEvaluation } from '../gate/evaluation.ts';
import { REPO_DIR } from '../repo-dir.ts';
import { roundLine, roundSummary } from '../report/round-summary.ts';
import { loadProjectConfig } from './project-config.ts';
import type { ProjectContext } from './project-context.ts';
import { projectPaths, STAGES } from './project-paths.ts';
import { readReleases } from './release-registry.ts';
import { readStageRecord, STAGE_RECORD_FILE } from './stage-record.ts';
import { distillStage } from './stages/distill-stage.ts';
import { evaluateStage } from './stages/evaluate-stage.ts';
import { exportStage } from './stages/export-stage.ts';
import { fleetStage } from './stages/fleet-stage.ts';
import { gateStage } from './stages/gate-stage.ts';
import { ingestStage } from './stages/ingest-stage.ts';
import { publishStage } from './stages/publish-stage.ts';
import { reportStage } from './stages/report-stage.ts';
import { trainStage } from './stages/train-stage.ts';

const COMMANDS = [...STAGES, 'fleet', 'status'] as const;
type ProjectStep = (typeof COMMANDS)[number];

function isStep(value: string): value is ProjectStep {
  return (COMMANDS as readonly string[]).includes(value);
}

function metricText(heads: Record<string, HeadEvaluation>): string {
  const text = (h: HeadEvaluation): string => `${h.head} ${h.metric.name} ${h.metric.value.toFixed(4)}${h.baseline === undefined ? '' : ` (constant prediction ${h.baseline.toFixed(4)})`}`;
  return Object.values(heads).map(text).join(', ');
}

async function runStep(step: ProjectStep, context: ProjectContext, cli: CliContext): Promise<CliResult> {
  const done = (summary: unknown, text: string): CliResult => ({ exitCode: 0, summary, text });
  switch (step) {
    case 'ingest': {
      const { basis } = await ingestStage(context);
      const against = basis.baseline ? `against release v${basis.baseline.version}` : 'with no release to compare against';
      return done(basis, `round ${basis.round} trains on snapshot v${basis.snapshot.version} (${basis.snapshot.samples} samples), ${against}`);
    }
    case 'train': {
      const record = await trainStage(context);
      return done(record, `teacher in ${record.result.teacherDir}${record.result.fromRelease ? `, fine-tuned from v${record.result.fromRelease}` : ''}`);
    }
    case 'distill': {
      const record = await distillStage(context);
      const heads = record.result.heads.map((h) => `${h.name} ${h.metric} teacher ${h.teacher.toFixed(4)} student ${h.student.toFixed(4)}`).join(', ');
      return done(record, `student of ${record.result.parameters.student} parameters (teacher ${record.result.parameters.teacher}): ${heads}`);
    }
    case 'export': {
      const { result } = await exportStage(context, cli);
      return done(result, `float32 ${result.float32.bytes} bytes, int8 ${result.int8.bytes} bytes (${((result.int8.bytes / result.float32.bytes) * 100).toFixed(1)}%): ${result.int8.file}`);
    }
    case 'evaluate': {
      const { result } = await evaluateStage(context);
      const lines = [`${result.candidate.label}: ${metricText(result.candidate.heads)}, p99 ${result.candidate.latencyMs.p99.toFixed(2)} ms, ${result.candidate.sizeBytes} bytes`];
      if (result.deployed) lines.push(`${result.deployed.label}: ${metricText(result.deployed.heads)}`);
      return done({ candidate: result.candidate, deployed: result.deployed }, lines.join('\n'));
    }
    case 'gate': {
      const { basis, result } = await gateStage(context);
      const lines = [`round ${basis.round}: ${result.publish ? 'the gate passed the candidate' : 'the gate blocked the candidate'}`];
      for (const check of result.checks) lines.push(`  ${check.passed ? 'pass' : 'FAIL'} ${check.check}: ${check.detail}`);
      return done(result, lines.join('\n'));
    }
    case 'publish': {
      const { basis, result } = await publishStage(context);
      const text = result.publishedVersion !== null
        ? `round ${basis.round}: v${result.publishedVersion} serves on ${Object.keys(result.fleetVersions).length} robots`
        : `round ${basis.round}: nothing published (${result.reasons.join('; ')}); the fleet stays as it was`;
      return done(result, text);
    }
    case 'report': {
      const { record, report } = await reportStage(context);
      const lines = report.rounds.map(roundLine);
      lines.push(`report: ${record.result.html}`);
      return done({ report: record.result.html, rounds: report.rounds.map(roundSummary) }, lines.join('\n'));
    }
    case 'fleet': {
      const batch = await fleetStage(context);
      const text = batch
        ? `field batch: snapshot v${batch.snapshotVersion}, ${batch.added} new samples (${Object.entries(batch.perRobot).map(([r, n]) => `${r} ${n}`).join(', ')}); the next round trains on it`
        : 'the fleet sent nothing new home; the next round has nothing new to train on';
      return done(batch, text);
    }
    case 'status': {
      const releases = await readReleases(context.paths);
      const lines = [`project ${context.paths.dir} (${context.config.file})`];
      lines.push(releases.length === 0 ? 'no release yet' : `releases: ${releases.map((r) => `v${r.version} (round ${r.round}, snapshot v${r.snapshotVersion})`).join(', ')}`);
      const current = existsSync(join(context.paths.stage('ingest'), STAGE_RECORD_FILE)) ? (await readStageRecord(context.paths, 'ingest')).basis : null;
      if (current) lines.push(`round ${current.round}: snapshot v${current.snapshot.version}, ${current.baseline ? `against v${current.baseline.version}` : 'no release to compare against'}`);
      for (const stage of STAGES) {
        if (!existsSync(join(context.paths.stage(stage), STAGE_RECORD_FILE))) {
          lines.push(`  ${stage}: not run`);
          continue;
        }
        const { basis } = await readStageRecord(context.paths, stage);
        const same = current !== null && basis.snapshot.manifestHash === current.snapshot.manifestHash;
        lines.push(`  ${stage}: ${same ? 'done' : `stale, made for snapshot v${basis.snapshot.version}`}`);
      }
      return done({ releases }, lines.join('\n'));
    }
  }
}

/** `fieldloop project STAGE`: one stage of a project-mode round, as the Nx targets run it. */
export const projectCommand: CliCommand = {
  name: 'project',
  summary: 'run one stage of a project-mode round (the Nx targets of tools:loop run them in order)',
  description:
    'Project-mode rounds keep their state in --dir: the data set store, the release registry, the robots\' bundle ' +
    'stores and one folder of artifacts per stage. The stages, in order: ingest (new or changed base sources, ' +
    'then fixes the round\'s snapshot and the release to compare against), train (from the teacher config in round 0, ' +
    'else fine-tuning the previous release\'s teacher with replay), distill, export (float32 and int8 TFLite), ' +
    'evaluate (the int8 file and the deployed one, per head and scenario tag), gate, publish (canary first, only ' +
    'when the gate passed) and report. fleet drives the simulated robots on the deployed model and commits what ' +
    'they capture as a field batch for the next round; status lists releases and finished stages.',
  arguments: '<stage>',
  options: [
    { flags: '--config <file>', description: 'project config (default: $FIELDLOOP_PROJECT, else configs/project/sim.yaml)' },
    { flags: '--dir <dir>', description: 'project directory for state and stage artifacts', defaultValue: '.fieldloop/project' },
  ],
  async run(args, options, context): Promise<CliResult> {
    const step = args[0] ?? '';
    if (!isStep(step)) throw new Error(`unknown project stage ${JSON.stringify(step)}; use one of ${COMMANDS.join(', ')}`);
    const requestedConfig = typeof options.config === 'string' ? options.config : process.env.FIELDLOOP_PROJECT;
    const file = requestedConfig === undefined ? join(REPO_DIR, 'configs', 'project', 'sim.yaml') : resolve(requestedConfig);
    const config = await loadProjectConfig(file, REPO_DIR);
    return runStep(step, { config, paths: projectPaths(resolve(String(options.dir ?? '.fieldloop/project'))), log: context.log }, context);
  },
};
