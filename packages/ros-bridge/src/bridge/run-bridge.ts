import type { Logger } from '@fieldloop/contracts';
import { createMessageDecoder, DefinitionRegistry } from '../decode/index.ts';
import type { SourceReport } from '../ingest/ingest-report.ts';
import { ingestRecording } from '../ingest/ingest-recording.ts';
import type { SampleSink } from '../ingest/sample-sink.ts';
import type { Mapping } from '../mapping/mapping.ts';
import { openRecording } from '../recording/open-recording.ts';
import type { RecordingReader } from '../recording/recording-reader.ts';
import { loadRclnodejs } from './load-rclnodejs.ts';
import { Ros2LiveReader } from './ros2-live-reader.ts';

/** Source of the bridge's messages: live ROS 2 topics, or a recording replayed in their place. */
export type BridgeSource = 'ros2-live' | 'replay';

export interface RunBridgeOptions {
  mapping: Mapping;
  sink: SampleSink;
  /** A recording to replay; without one the bridge needs rclnodejs and a running ROS 2 graph. */
  replay: string | null;
  /** Directories of `<package>/msg/<Type>.msg` definitions for types the recording or graph does not provide. */
  msgPaths: readonly string[];
  /** Live capture stops when this signal aborts, and so does a replay, which otherwise stops at the end of the recording. */
  signal?: AbortSignal;
  log: Logger;
}

export interface BridgeResult {
  source: BridgeSource;
  report: SourceReport;
}

function mappedTopics(mapping: Mapping): string[] {
  const topics = [
    mapping.image.topic,
    ...mapping.labels.map((label) => label.topic),
    ...mapping.tags.flatMap((tag) => (tag.kind === 'topic' ? [tag.topic] : [])),
  ].filter((topic): topic is string => topic !== null);
  return [...new Set(topics)];
}

/**
 * Turns messages into samples with the ingest pipeline (the same mapping, time matching and
 * image preparation as `fieldloop ingest`) and sends them to the sink, usually an MqttUplink.
 * With `replay` it reads that recording; otherwise it subscribes to the mapped ROS 2 topics
 * through rclnodejs and throws when rclnodejs is not installed.
 */
export async function runBridge(options: RunBridgeOptions): Promise<BridgeResult> {
  const definitions = new DefinitionRegistry();
  for (const dir of options.msgPaths) await definitions.addMsgDirectory(dir);
  const decoder = createMessageDecoder({ definitions });
  let reader: RecordingReader;
  let source: BridgeSource;
  if (options.replay !== null) {
    source = 'replay';
    reader = await openRecording(options.replay);
    options.log.info({ source, recording: options.replay }, 'bridge source: replaying a recording in place of live ROS 2 topics');
  } else {
    const loaded = await loadRclnodejs();
    if (!loaded.available) {
      throw new Error(`live capture needs rclnodejs and a ROS 2 installation (${loaded.reason}); pass --replay PATH to replay a recording instead`);
    }
    source = 'ros2-live';
    reader = await Ros2LiveReader.open(loaded.rclnodejs, { topics: mappedTopics(options.mapping) });
    options.log.info({ source, topics: mappedTopics(options.mapping) }, 'bridge source: live ROS 2 topics through rclnodejs');
    options.signal?.addEventListener('abort', () => void reader.close(), { once: true });
  }
  try {
    const report = await ingestRecording(reader, { mapping: options.mapping, decoder, sink: options.sink, signal: options.signal });
    return { source, report };
  } finally {
    await reader.close();
  }
}
