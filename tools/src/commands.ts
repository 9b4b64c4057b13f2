import type { CliCommand } from '@fieldloop/contracts';
import { bridgeCommand, collectCommand, ingestCommand } from '@fieldloop/ros-bridge';
import { edgeCommand } from '@fieldloop/edge-runtime';
import { evaluateCommand, trainCommand } from '@fieldloop/trainer';
import { distillCommand, exportCommand } from '@fieldloop/distill';
import { loopCommand } from './loop/loop-command.ts';
import { simulateCommand } from './sim/simulate-command.ts';

/** Every subcommand of the tool, in the order `fieldloop --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  ingestCommand,
  simulateCommand,
  trainCommand,
  evaluateCommand,
  distillCommand,
  exportCommand,
  edgeCommand,
  bridgeCommand,
  collectCommand,
  loopCommand,
];
