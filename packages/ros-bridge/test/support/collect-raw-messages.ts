import type { RawMessage, RecordingReader } from '../../src/recording/recording-reader.ts';

/** Reads every message of a reader into an array. */
export async function collectRawMessages(reader: RecordingReader): Promise<RawMessage[]> {
  const messages: RawMessage[] = [];
  for await (const message of reader.messages()) messages.push(message);
  return messages;
}

/** Counts messages per topic. */
export function countByTopic(messages: readonly RawMessage[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const message of messages) counts[message.channel.topic] = (counts[message.channel.topic] ?? 0) + 1;
  return counts;
}
