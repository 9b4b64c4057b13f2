export * from './recording/recording-reader.ts';
export { detectImageFormat, detectKind } from './recording/detect-format.ts';
export { openRecording, recordingName } from './recording/open-recording.ts';
export * from './decode/index.ts';
export type { Mapping, LabelSpec, TagSpec, SplitSpec, ImageSpec } from './mapping/mapping.ts';
export { loadMapping, parseMapping, MappingError } from './mapping/load-mapping.ts';
export { TimeMatcher } from './mapping/time-matcher.ts';
export { prepareEncodedImage, prepareRawImage, ImageDecodeError } from './image/prepare-image.ts';
export { imageFromMessage } from './image/ros-image.ts';
export { ingestRecording } from './ingest/ingest-recording.ts';
export { ingestFolder } from './ingest/ingest-folder.ts';
export { runIngest, type IngestResult, type RunIngestOptions } from './ingest/run-ingest.ts';
export type { SourceReport, TopicReport } from './ingest/ingest-report.ts';
export type { SampleSink, SampleBlobs } from './ingest/sample-sink.ts';
export { ingestCommand } from './cli/ingest-command.ts';
export { openMcap } from './recording/mcap-reader.ts';
export { openRos1Bag } from './recording/ros1-reader.ts';
export { openRosbag2Sqlite } from './recording/sqlite-reader.ts';
export { isRosbag2Directory, openRosbag2Directory } from './recording/rosbag2-directory.ts';
export { readRosbag2Metadata, type Rosbag2Metadata } from './recording/rosbag2-metadata.ts';
export { Rosbag2McapWriter, ROS2_MSG_SCHEMAS, type Rosbag2TopicSpec } from './recording/rosbag2-mcap-writer.ts';
export {
  decodeFleetMessage,
  encodeSample,
  encodeSamplePayloads,
  FLEET_LIMITS,
  FLEET_SCHEMA_VERSION,
  newBootId,
  SampleCodecError,
  type DecodedFleetMessage,
  type FieldSample,
  type FieldSampleExtra,
  type SampleChunk,
} from './fleet/sample-codec.ts';
export { OutboundQueue, type OutboundMessage, type OutboundQueueOptions, type OutboundQueueStats, type QueuedMessage } from './fleet/outbound-queue.ts';
export type { BrokerOptions, BrokerTlsOptions } from './fleet/broker-options.ts';
export { MqttUplink, type MqttUplinkOptions, type MqttUplinkStats } from './fleet/mqtt-uplink.ts';
export { FleetCollector, type CollectorOptions, type CollectorStats, type FieldBatch } from './fleet/collector.ts';
export { startEmbeddedBroker, type EmbeddedBroker } from './fleet/embedded-broker.ts';
export { runBridge, type BridgeResult, type BridgeSource, type RunBridgeOptions } from './bridge/run-bridge.ts';
export { loadRclnodejs } from './bridge/load-rclnodejs.ts';
export { bridgeCommand } from './cli/bridge-command.ts';
export { collectCommand } from './cli/collect-command.ts';
