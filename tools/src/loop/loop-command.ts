import { resolve } from 'node:path';
import type { CliCommand, CliResult } from '@fieldloop/contracts';
import { isBackendName } from '@fieldloop/trainer';
import { roundLine, roundSummary } from '../report/round-summary.ts';
import { runLoop } from './run-loop.ts';

function optionalInteger(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`${option} must be a positive integer, got ${JSON.stringify(value)}`);
  return number;
}

/** `fieldloop loop`: runs rounds of the closed loop with embedded defaults. */
export const loopCommand: CliCommand = {
  name: 'loop',
  summary: 'run rounds of the closed loop: train, distill, gate, publish, collect field data, retrain',
  description:
    'Runs the project-mode stages of each round in one process, with the fleet stage between rounds, in the ' +
    'project directory --out: an in-process aedes MQTT broker, the SQLite data set store, and a simulated fleet of ' +
    'robots running the real edge runtime. Without --data it first generates the built-in procedural drives and ' +
    'signs. Round 0 trains and publishes the base model; each later round replays recordings on the robots, ' +
    'collects what their triggers captured, fine-tunes, re-distills and publishes only when the gate finds no ' +
    'regression. Writes --out/project.yaml, with which `fieldloop project STAGE` continues the project, and the ' +
    'report under --out/stages/report.',
  arguments: '',
  options: [
    { flags: '--out <dir>', description: 'project directory for the store, releases, stage artifacts and report', defaultValue: '.fieldloop/loop' },
    { flags: '--data <dir>', description: 'folder of real recordings described by --data-config (default: built-in procedural data)' },
    { flags: '--data-config <file>', description: 'YAML data config; default configs/data/shared-data.yaml with --data, configs/data/sim.yaml without' },
    { flags: '--teacher-config <file>', description: 'teacher config; default packages/trainer/configs/teacher.yaml with --data, teacher-sim.yaml without' },
    { flags: '--rounds <count>', description: 'rounds in all, counting the base round 0', defaultValue: '2' },
    { flags: '--teacher-epochs <count>', description: 'teacher training epochs per round (default: the teacher config\'s)' },
    { flags: '--distill-epochs <count>', description: 'distillation epochs per round (default: distill\'s)' },
    { flags: '--backend <name>', description: 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: the fastest present)' },
  ],
  async run(_args, options, context): Promise<CliResult> {
    const backend = options.backend === undefined ? undefined : String(options.backend);
    if (backend !== undefined && !isBackendName(backend)) throw new Error(`--backend must be tfjs-node-gpu, tfjs-node, wasm or cpu, got ${backend}`);
    const result = await runLoop({
      out: resolve(String(options.out)),
      dataDir: typeof options.data === 'string' ? resolve(options.data) : null,
      dataConfig: typeof options.dataConfig === 'string' ? resolve(options.dataConfig) : undefined,
      teacherConfig: typeof options.teacherConfig === 'string' ? resolve(options.teacherConfig) : undefined,
      rounds: optionalInteger(options.rounds, '--rounds') ?? 2,
      teacherEpochs: optionalInteger(options.teacherEpochs, '--teacher-epochs'),
      distillEpochs: optionalInteger(options.distillEpochs, '--distill-epochs'),
      backend,
    }, context);
    const lines = result.report.rounds.map(roundLine);
    lines.push(`report: ${result.reportHtml}`);
    lines.push(`project config: ${result.configFile} (fieldloop project status --dir ${resolve(String(options.out))} --config ${result.configFile})`);
    const summary = { report: result.reportHtml, config: result.configFile, rounds: result.report.rounds.map(roundSummary) };
    return { exitCode: 0, summary, text: lines.join('\n') };
  },
};
