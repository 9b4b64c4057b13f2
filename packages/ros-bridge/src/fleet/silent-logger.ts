import type { Logger } from '@fieldloop/contracts';

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
