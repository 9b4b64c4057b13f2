import type { CliCommand } from '@fieldloop/contracts';
import { bridgeCommand, collectCommand, ingestCommand } from '@fieldloop/ros-bridge';
import { snapshotsCommand } from '@fieldloop/dataset';
import { edgeCommand } from '@fieldloop/edge-runtime';
import { trainCommand } from '@fieldloop/trainer';
import { distillCommand, exportCommand } from '@fieldloop/distill';
import { evaluateCommand } from './loop/evaluate-command.ts';
import { loopCommand } from './loop/loop-command.ts';
import { projectCommand } from './project/project-command.ts';
import { simulateCommand } from './sim/simulate-command.ts';

/** Every subcommand of the tool, in the order `fieldloop --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  ingestCommand,
  snapshotsCommand,
  simulateCommand,
  trainCommand,
  evaluateCommand,
  distillCommand,
  exportCommand,
  edgeCommand,
  bridgeCommand,
  collectCommand,
  loopCommand,
  projectCommand,
];
