import { RecordingError, type RecordingChannel } from './recording-reader.ts';
import type { Rosbag2Metadata } from './rosbag2-metadata.ts';

/**
 * Merges the channels of a rosbag2 directory's storage files into one channel per topic.
 *
 * When metadata.yaml exists, its type and serialization format win over the files' values,
 * because rosbag2 trusts metadata.yaml: a bag whose metadata.yaml names an unknown
 * serialization format must fail to decode even if the storage file names `cdr`. Its
 * `message_count` becomes the declared count. Without metadata.yaml, a topic's declared count
 * is the sum over the files when every file that has the topic declares a count, else null.
 */
export class Rosbag2ChannelMerge {
  readonly channels: RecordingChannel[] = [];
  private readonly byTopic = new Map<string, RecordingChannel>();
  /** First file and type seen per topic, to reject a topic whose type changes between files. */
  private readonly fileTypes = new Map<string, { file: string; type: string }>();
  /** Declared counts summed over the files so far; null once a file with the topic declares none. */
  private readonly summedCounts = new Map<string, number | null>();

  constructor(private readonly metadata: Rosbag2Metadata | null) {
    for (const topic of metadata?.topicsWithMessageCount ?? []) {
      const { name, type, serializationFormat } = topic.topicMetadata;
      if (this.byTopic.has(name)) continue;
      this.add({
        id: this.channels.length + 1,
        topic: name,
        type,
        encoding: serializationFormat,
        definition: null,
        declaredCount: topic.messageCount,
      });
    }
  }

  private add(channel: RecordingChannel): RecordingChannel {
    this.channels.push(channel);
    this.byTopic.set(channel.topic, channel);
    return channel;
  }

  /** Adds the channels that one storage file lists before its messages are read. */
  addFileChannels(file: string, fileChannels: readonly RecordingChannel[]): void {
    const seen = new Set<string>();
    for (const fileChannel of fileChannels) {
      if (seen.has(fileChannel.topic)) continue;
      seen.add(fileChannel.topic);
      this.channelFor(file, fileChannel);
      this.sumDeclaredCount(fileChannel);
    }
  }

  /** Returns the merged channel for a file's channel, adding one for a topic not seen before. */
  channelFor(file: string, fileChannel: RecordingChannel): RecordingChannel {
    this.checkType(file, fileChannel);
    const merged = this.byTopic.get(fileChannel.topic);
    if (merged) {
      if (merged.definition === null && fileChannel.definition !== null && fileChannel.type === merged.type) {
        merged.definition = fileChannel.definition;
      }
      return merged;
    }
    return this.add({
      id: this.channels.length + 1,
      topic: fileChannel.topic,
      type: fileChannel.type,
      encoding: fileChannel.encoding,
      definition: fileChannel.definition,
      // A topic that metadata.yaml does not list has no declared count in it.
      declaredCount: null,
    });
  }

  private checkType(file: string, fileChannel: RecordingChannel): void {
    const first = this.fileTypes.get(fileChannel.topic);
    if (!first) {
      this.fileTypes.set(fileChannel.topic, { file, type: fileChannel.type });
      return;
    }
    if (first.type !== fileChannel.type) {
      throw new RecordingError(
        file,
        `topic ${fileChannel.topic} has type ${first.type} in ${first.file} but ${fileChannel.type} in ${file}; ` +
          'a rosbag2 topic has one type across its files. Read the files separately',
      );
    }
  }

  private sumDeclaredCount(fileChannel: RecordingChannel): void {
    if (this.metadata !== null) return;
    const merged = this.byTopic.get(fileChannel.topic);
    if (!merged) return;
    const previous = this.summedCounts.has(fileChannel.topic) ? this.summedCounts.get(fileChannel.topic) : 0;
    const total =
      previous === null || previous === undefined || fileChannel.declaredCount === null
        ? null
        : previous + fileChannel.declaredCount;
    this.summedCounts.set(fileChannel.topic, total);
    merged.declaredCount = total;
  }
}
