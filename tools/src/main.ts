import { Command, CommanderError, Option } from 'commander';
import type { CliCommand, CliContext } from '@fieldloop/contracts';
import { COMMANDS } from './commands.ts';
import { errorFields } from './error-fields.ts';
import { createLogger, type LogLevel } from './logger.ts';
import { startProgress } from './progress.ts';

/** Serialises bigints as decimal strings so every summary can be printed as JSON. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? item.toString() : item), 2);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function addCommand(program: Command, spec: CliCommand, exit: { code: number }): void {
  const command = program.command(spec.name).summary(spec.summary).description(spec.description);
  if (spec.arguments) command.arguments(spec.arguments);
  for (const option of spec.options) {
    const made = new Option(option.flags, option.description);
    if (option.repeatable) made.argParser(collect);
    if (option.defaultValue !== undefined) made.default(option.defaultValue);
    if (option.required) made.makeOptionMandatory();
    command.addOption(made);
  }
  command.action(async (...received: unknown[]) => {
    const commandObject = received.at(-1) as Command;
    const options = commandObject.opts();
    const globals = program.opts<{ json: boolean; logLevel: LogLevel }>();
    const log = createLogger(globals.json && globals.logLevel === 'info' ? 'warn' : globals.logLevel);
    const context: CliContext = { log, progress: (label, unit, total) => startProgress(label, unit, total) };
    const args = commandObject.args.flatMap((arg) => [arg]);
    // Commands that handle SIGINT or SIGTERM themselves (edge run, bridge, collect) add their own
    // listener, and this one then leaves the signal to them.
    const onSignal = (signal: NodeJS.Signals): void => {
      if (process.listenerCount(signal) > 1) return;
      log.warn(
        { command: spec.name, signal },
        `interrupted by ${signal}; what was committed before is kept, and fieldloop loop and the project stages continue where they stopped when run again`,
      );
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const result = await spec.run(args, options, context);
      process.stdout.write(`${globals.json ? toJson(result.summary) : result.text}\n`);
      exit.code = result.exitCode;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const fields = errorFields(error);
      log.error({ command: spec.name, ...fields }, message);
      if (globals.json) process.stdout.write(`${toJson({ error: message, ...fields })}\n`);
      exit.code = 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

/** Runs the `fieldloop` tool with the given arguments and returns its exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const exit = { code: 0 };
  const program = new Command('fieldloop')
    .description('fieldloop closes the loop between robots in the field and the models they run.')
    .option('--json', 'print a machine-readable summary on stdout instead of text', false)
    .addOption(
      new Option('--log-level <level>', 'least severe log level written to stderr')
        .choices(['debug', 'info', 'warn', 'error', 'silent'])
        .default('info'),
    )
    .showHelpAfterError()
    .exitOverride();
  for (const spec of COMMANDS) addCommand(program, spec, exit);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  return exit.code;
}
