import { join } from 'node:path';
import { RecordingError, type RecordingReader } from './recording-reader.ts';
import { LATEST_ROSBAG2_METADATA_VERSION } from './rosbag2-metadata-parse.ts';
import type { Rosbag2FileInformation, Rosbag2Metadata, Rosbag2TopicInformation } from './rosbag2-metadata.ts';
import { summarizeRosbag2Sqlite } from './rosbag2-sqlite-summary.ts';
import { listRosbag2StorageFiles } from './rosbag2-storage-files.ts';

/** Opens one storage file of a rosbag2 directory, for example `.db3` with the SQLite reader. */
export type OpenStorageFile = (file: string) => Promise<RecordingReader>;

/** Per-topic counts and the time range of one storage file. */
export interface Rosbag2StorageFileSummary {
  topics: Rosbag2TopicInformation[];
  messageCount: number;
  /** Log time of the first message in nanoseconds, or null for a file without messages. */
  firstLogTime: bigint | null;
  lastLogTime: bigint | null;
  /** ROS distribution that the file names, or empty. */
  rosDistro: string;
}

/** Reads every message of a file through its reader, for storage formats without SQL. */
async function summarizeWithReader(file: string, openFile: OpenStorageFile): Promise<Rosbag2StorageFileSummary> {
  const reader = await openFile(file);
  try {
    const topics = new Map<string, Rosbag2TopicInformation>();
    const addTopic = (topic: string, type: string, encoding: string): Rosbag2TopicInformation => {
      let entry = topics.get(topic);
      if (!entry) {
        entry = {
          topicMetadata: {
            name: topic,
            type,
            serializationFormat: encoding,
            offeredQosProfiles: '',
            typeDescriptionHash: '',
          },
          messageCount: 0,
        };
        topics.set(topic, entry);
      }
      return entry;
    };
    for (const channel of reader.channels()) addTopic(channel.topic, channel.type, channel.encoding);
    let first: bigint | null = null;
    let last: bigint | null = null;
    let messageCount = 0;
    for await (const message of reader.messages()) {
      const { topic, type, encoding } = message.channel;
      addTopic(topic, type, encoding).messageCount += 1;
      messageCount += 1;
      if (first === null || message.logTime < first) first = message.logTime;
      if (last === null || message.logTime > last) last = message.logTime;
    }
    return { topics: [...topics.values()], messageCount, firstLogTime: first, lastLogTime: last, rosDistro: '' };
  } finally {
    await reader.close();
  }
}

function summarizeFile(file: string, openFile: OpenStorageFile | undefined): Promise<Rosbag2StorageFileSummary> {
  if (file.endsWith('.db3')) return summarizeRosbag2Sqlite(file);
  if (openFile) return summarizeWithReader(file, openFile);
  throw new RecordingError(
    file,
    `cannot rebuild rosbag2 metadata from ${file} without a reader for its format; pass openFile to rebuildRosbag2Metadata`,
  );
}

/**
 * Rebuilds the metadata of a rosbag2 directory from its storage files alone, as `ros2 bag
 * reindex` does, for bags whose metadata.yaml is missing. The files are found by name
 * (`<bag name>_<N>.db3` or `.mcap`) and ordered by N. SQLite3 files are counted with SQL;
 * other files are read message by message through `openFile`. The result states the newest
 * metadata version, no compression, and `metadataPath` null.
 */
export async function rebuildRosbag2Metadata(dir: string, openFile?: OpenStorageFile): Promise<Rosbag2Metadata> {
  const storage = await listRosbag2StorageFiles(dir);
  const topics = new Map<string, Rosbag2TopicInformation>();
  const files: Rosbag2FileInformation[] = [];
  let first: bigint | null = null;
  let last: bigint | null = null;
  let messageCount = 0;
  let rosDistro = '';

  for (const name of storage.relativeFilePaths) {
    const summary = await summarizeFile(join(dir, name), openFile);
    for (const topic of summary.topics) {
      const entry = topics.get(topic.topicMetadata.name);
      if (entry) entry.messageCount += topic.messageCount;
      else topics.set(topic.topicMetadata.name, { topicMetadata: { ...topic.topicMetadata }, messageCount: topic.messageCount });
    }
    const start = summary.firstLogTime;
    const end = summary.lastLogTime;
    // rosbag2 states starting time 0 and duration 0 for a file without messages.
    files.push({
      path: name,
      startingTime: start ?? 0n,
      duration: start !== null && end !== null ? end - start : 0n,
      messageCount: summary.messageCount,
    });
    if (start !== null && (first === null || start < first)) first = start;
    if (end !== null && (last === null || end > last)) last = end;
    messageCount += summary.messageCount;
    if (rosDistro === '') rosDistro = summary.rosDistro;
  }

  return {
    version: LATEST_ROSBAG2_METADATA_VERSION,
    storageIdentifier: storage.storageIdentifier,
    relativeFilePaths: storage.relativeFilePaths,
    duration: first !== null && last !== null ? last - first : 0n,
    startingTime: first ?? 0n,
    messageCount,
    topicsWithMessageCount: [...topics.values()],
    compressionFormat: '',
    compressionMode: '',
    files,
    customData: {},
    rosDistro,
    metadataPath: null,
  };
}
