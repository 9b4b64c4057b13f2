import type { CliContext } from '@fieldloop/contracts';

export interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

/** Builds a CliContext that records log lines, for tests of commands. */
export function captureContext(): CliContext & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const record = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return {
    lines,
    log: { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') },
    progress: () => ({ update() {}, stop() {} }),
  };
}
