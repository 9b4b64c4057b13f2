import type { RawMessage } from './recording-reader.ts';

interface Run {
  messages: RawMessage[];
  position: number;
}

/**
 * Messages of decoded chunks held until they can be yielded in log-time order. Each run is one
 * chunk's messages, already sorted; the merge takes the earlier run first on equal log times.
 */
export class SortedRuns {
  readonly #runs: Run[] = [];

  /** Adds one chunk's messages, which must be in log-time order. */
  add(messages: RawMessage[]): void {
    if (messages.length > 0) this.#runs.push({ messages, position: 0 });
  }

  /**
   * Yields and removes, in log-time order, every held message with a log time below `limit`, or
   * at most `limit` when `inclusive`. A null limit yields all of them.
   */
  *drain(limit: bigint | null, inclusive = false): Generator<RawMessage> {
    const runs = this.#runs;
    const isBeforeLimit = (logTime: bigint): boolean =>
      limit === null || logTime < limit || (inclusive && logTime === limit);

    while (runs.length > 0) {
      if (runs.length === 1) {
        const run = runs[0]!;
        const { messages } = run;
        while (run.position < messages.length) {
          const message = messages[run.position]!;
          if (!isBeforeLimit(message.logTime)) return;
          run.position++;
          yield message;
        }
        runs.pop();
        return;
      }

      let earliest = 0;
      let earliestTime = runs[0]!.messages[runs[0]!.position]!.logTime;
      for (let index = 1; index < runs.length; index++) {
        const run = runs[index]!;
        const logTime = run.messages[run.position]!.logTime;
        if (logTime < earliestTime) {
          earliest = index;
          earliestTime = logTime;
        }
      }
      if (!isBeforeLimit(earliestTime)) return;
      const run = runs[earliest]!;
      const message = run.messages[run.position]!;
      run.position++;
      if (run.position === run.messages.length) runs.splice(earliest, 1);
      yield message;
    }
  }
}
