import type { CliCommand } from '@fieldloop/contracts';
import { bridgeCommand, collectCommand, ingestCommand } from '@fieldloop/ros-bridge';
import { edgeCommand } from '@fieldloop/edge-runtime';
import { simulateCommand } from './sim/simulate-command.ts';

/** Every subcommand of the tool, in the order `fieldloop --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [ingestCommand, simulateCommand, bridgeCommand, collectCommand, edgeCommand];
