import type { RecordingChannel } from './recording-reader.ts';
import type { Ros1Connection } from './ros1-record.ts';

/** Channels of one bag and the channel of each connection id. */
export interface Ros1Channels {
  channels: RecordingChannel[];
  byConnection: Map<number, RecordingChannel>;
}

/**
 * Merges connections into channels, one per topic, type and md5sum, in order of first connection
 * id. A bag stores one connection per publisher, so one topic often has several connections
 * of the same type. Connections whose md5sum differs keep separate channels because their bytes
 * need different definitions. `counts` maps connection ids to the message counts that the bag's
 * index states, or is null when the index is missing.
 */
export function buildRos1Channels(
  connections: Iterable<Ros1Connection>,
  counts: ReadonlyMap<number, number> | null,
): Ros1Channels {
  const sorted = [...connections].sort((a, b) => a.conn - b.conn);
  const channels: RecordingChannel[] = [];
  const byKey = new Map<string, RecordingChannel>();
  const byConnection = new Map<number, RecordingChannel>();

  for (const connection of sorted) {
    const key = `${connection.topic}\0${connection.type}\0${connection.md5sum}`;
    let channel = byKey.get(key);
    if (channel === undefined) {
      channel = {
        id: channels.length,
        topic: connection.topic,
        type: connection.type,
        encoding: 'ros1',
        definition: { encoding: 'ros1msg', text: connection.messageDefinition },
        declaredCount: counts === null ? null : 0,
      };
      channels.push(channel);
      byKey.set(key, channel);
    }
    if (counts !== null) channel.declaredCount = (channel.declaredCount ?? 0) + (counts.get(connection.conn) ?? 0);
    byConnection.set(connection.conn, channel);
  }
  return { channels, byConnection };
}
