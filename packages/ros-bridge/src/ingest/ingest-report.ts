import type { ReadLoss } from '../recording/recording-reader.ts';

/** Per-topic facts of one recording, as read. */
export interface TopicReport {
  topic: string;
  type: string;
  encoding: string;
  messages: number;
  /** Count the file's index or metadata states, or null when it states none. */
  declaredMessages: number | null;
  /** First and last log time in ns since the Unix epoch, as decimal strings; null when empty. */
  firstLogTimeNs: string | null;
  lastLogTimeNs: string | null;
  /** Messages that failed to decode, with the first error. */
  decodeErrors: number;
  firstDecodeError: string | null;
}

/** What reading one recording or folder produced. */
export interface SourceReport {
  path: string;
  format: string;
  recording: string;
  files: string[];
  topics: TopicReport[];
  losses: Array<Omit<ReadLoss, 'startTime' | 'endTime'> & { startTimeNs: string | null; endTimeNs: string | null }>;
  /** Samples produced; zero when no mapping was given. */
  samples: number;
  /** Frames or files dropped, with the first reasons. */
  skipped: number;
  skipReasons: string[];
  /** Frames per head that found no label within tolerance. */
  unlabelled: Record<string, number>;
}

/** Turns a reader's losses into the JSON-safe form of a report. */
export function lossesForReport(losses: readonly ReadLoss[]): SourceReport['losses'] {
  return losses.map(({ startTime, endTime, ...rest }) => ({
    ...rest,
    startTimeNs: startTime === null ? null : startTime.toString(),
    endTimeNs: endTime === null ? null : endTime.toString(),
  }));
}

/** Keeps a bounded list of example reasons while counting all of them. */
export class SkipLog {
  count = 0;
  readonly reasons: string[] = [];

  constructor(private readonly keep = 5) {}

  add(reason: string): void {
    this.count += 1;
    if (this.reasons.length < this.keep) this.reasons.push(reason);
  }
}
