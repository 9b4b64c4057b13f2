import { pino } from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '@fieldloop/contracts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Creates the tool's one logger, writing to stderr: readable lines on a terminal, JSON lines elsewhere. */
export function createLogger(level: LogLevel, stream: NodeJS.WriteStream = process.stderr): Logger {
  if (stream.isTTY) {
    return pino({ level }, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }));
  }
  return pino({ level, base: undefined }, pino.destination({ dest: 2, sync: true }));
}
