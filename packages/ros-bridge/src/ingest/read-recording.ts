import type { RawMessage, RecordingReader } from '../recording/recording-reader.ts';
import type { TopicReport } from './ingest-report.ts';

/** Counts messages and time ranges per topic while a recording is read. */
export class TopicTally {
  private readonly topics = new Map<string, TopicReport & { first: bigint | null; last: bigint | null }>();

  constructor(reader: RecordingReader) {
    for (const channel of reader.channels()) this.entry(channel);
  }

  private entry(channel: RawMessage['channel']): TopicReport & { first: bigint | null; last: bigint | null } {
    let entry = this.topics.get(channel.topic);
    if (!entry) {
      entry = {
        topic: channel.topic,
        type: channel.type,
        encoding: channel.encoding,
        messages: 0,
        declaredMessages: channel.declaredCount,
        firstLogTimeNs: null,
        lastLogTimeNs: null,
        decodeErrors: 0,
        firstDecodeError: null,
        first: null,
        last: null,
      };
      this.topics.set(channel.topic, entry);
    }
    return entry;
  }

  count(message: RawMessage): void {
    const entry = this.entry(message.channel);
    entry.messages += 1;
    if (entry.first === null || message.logTime < entry.first) entry.first = message.logTime;
    if (entry.last === null || message.logTime > entry.last) entry.last = message.logTime;
  }

  decodeFailed(message: RawMessage, error: Error): void {
    const entry = this.entry(message.channel);
    entry.decodeErrors += 1;
    entry.firstDecodeError ??= error.message;
  }

  report(): TopicReport[] {
    return [...this.topics.values()]
      .map(({ first, last, ...rest }) => ({
        ...rest,
        firstLogTimeNs: first === null ? null : first.toString(),
        lastLogTimeNs: last === null ? null : last.toString(),
      }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  }
}
