import { openSqliteReadOnly } from './open-sqlite-read-only.ts';
import { RecordingError } from './recording-reader.ts';
import type { Rosbag2StorageFileSummary } from './rosbag2-metadata-rebuild.ts';
import { readRosbag2SqliteTables } from './rosbag2-sqlite-tables.ts';

/**
 * Counts the messages of one rosbag2 SQLite3 file per topic, with their first and last log
 * time, by SQL aggregation without reading the payloads. Like rosbag2's own reindexer, it lists
 * every topic of the `topics` table, including topics without messages, and ignores messages
 * whose topic_id has no topic row.
 */
export async function summarizeRosbag2Sqlite(file: string): Promise<Rosbag2StorageFileSummary> {
  const sqlite = await openSqliteReadOnly(file);
  try {
    const tables = readRosbag2SqliteTables(sqlite.db, file);
    let rows: [bigint, bigint, bigint, bigint][];
    try {
      rows = sqlite.db
        .prepare('SELECT topic_id, COUNT(*), MIN(timestamp), MAX(timestamp) FROM messages GROUP BY topic_id')
        .safeIntegers(true)
        .raw(true)
        .all() as [bigint, bigint, bigint, bigint][];
    } catch (error) {
      throw new RecordingError(file, `failed to count the messages of ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const statsByTopicId = new Map(rows.map(([topicId, count, first, last]) => [Number(topicId), { count, first, last }]));
    let first: bigint | null = null;
    let last: bigint | null = null;
    let messageCount = 0;
    const topics = tables.topics.map((topic) => {
      const stats = statsByTopicId.get(topic.id);
      if (stats) {
        messageCount += Number(stats.count);
        if (first === null || stats.first < first) first = stats.first;
        if (last === null || stats.last > last) last = stats.last;
      }
      return {
        topicMetadata: {
          name: topic.name,
          type: topic.type,
          serializationFormat: topic.serializationFormat,
          offeredQosProfiles: topic.offeredQosProfiles,
          typeDescriptionHash: topic.typeDescriptionHash,
        },
        messageCount: stats ? Number(stats.count) : 0,
      };
    });
    return { topics, messageCount, firstLogTime: first, lastLogTime: last, rosDistro: tables.rosDistro };
  } finally {
    await sqlite.close();
  }
}
