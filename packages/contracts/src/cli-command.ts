/** Structured logging that applications provide; libraries receive it and never print. */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A progress display; a no-op where stderr is not a terminal. */
export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

/** Services the `fieldloop` tool passes to each command. */
export interface CliContext {
  log: Logger;
  /** Starts a progress display labelled with `label`, counting `unit`s. */
  progress(label: string, unit: string, total?: number): Progress;
}

/** One option of a command, in commander's flag syntax such as `--store <dir>`. */
export interface CliOption {
  flags: string;
  /** Says what the option sets and in what unit. */
  description: string;
  defaultValue?: string | boolean | string[];
  /** Collects repeated uses into an array. */
  repeatable?: boolean;
  required?: boolean;
}

/** Result of a command: the exit code, a JSON summary and a human-readable text. */
export interface CliResult {
  exitCode: number;
  summary: unknown;
  text: string;
}

/** A subcommand that a package contributes to the `fieldloop` tool. */
export interface CliCommand {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Longer help text shown by `fieldloop NAME --help`. */
  description: string;
  /** Positional arguments in commander syntax, for example `<paths...>`. */
  arguments: string;
  options: CliOption[];
  run(args: string[], options: Record<string, unknown>, context: CliContext): Promise<CliResult>;
}
