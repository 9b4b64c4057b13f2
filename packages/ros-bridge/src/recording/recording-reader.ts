/** Storage formats that fieldloop reads, detected from their bytes, and `ros2-live` for a live ROS 2 graph. */
export type RecordingFormat = 'mcap' | 'rosbag2-sqlite3' | 'ros1-bag' | 'ros2-live';

/** A message definition carried by the recording itself. */
export interface EmbeddedDefinition {
  /** `ros2msg` and `ros1msg` are `.msg` text with dependencies after `MSG:` separator lines. */
  encoding: 'ros2msg' | 'ros1msg' | 'ros2idl' | string;
  text: string;
}

/** One topic of a recording as stored in it. */
export interface RecordingChannel {
  /** Unique within one reader. */
  id: number;
  topic: string;
  /** Type name as stored, for example `sensor_msgs/msg/Image` (ROS 2) or `sensor_msgs/Image` (ROS 1). */
  type: string;
  /** Serialization format of the payloads: `cdr` for ROS 2, `ros1` for ROS 1 bags. */
  encoding: string;
  /** The definition stored in the file, or null when the file has none. */
  definition: EmbeddedDefinition | null;
  /** Message count that the file's index or metadata states, or null when it states none. */
  declaredCount: number | null;
}

/** One serialized message, not yet decoded. */
export interface RawMessage {
  channel: RecordingChannel;
  /** Receive time in nanoseconds since the Unix epoch. */
  logTime: bigint;
  /** Publish time in nanoseconds; equal to logTime where the format stores only one time. */
  publishTime: bigint;
  data: Uint8Array;
  /** The file that held the message, for lineage in split bags. */
  file: string;
}

/**
 * A part of a recording that could not be read. A reader that reports no loss has read every
 * byte of every file. A reader that lost anything reports how much here.
 */
export interface ReadLoss {
  file: string;
  /** Bytes of the file that were not turned into messages. */
  bytes: number;
  /** Messages known to be lost, or null when the file no longer records how many. */
  messages: number | null;
  /** Log time range of the lost messages, as far as the file still records it, in nanoseconds. */
  startTime: bigint | null;
  endTime: bigint | null;
  /** Reason the bytes were lost and what was still recovered, in one or two sentences. */
  reason: string;
}

/** A recording opened for reading. */
export interface RecordingReader {
  readonly format: RecordingFormat;
  /** The path the user gave: a file or a rosbag2 directory. */
  readonly path: string;
  /** Every file that contains messages, in reading order. */
  readonly files: readonly string[];
  /** Channels known before reading messages. Readers that learn channels while reading add them. */
  channels(): readonly RecordingChannel[];
  /**
   * Yields every message. Order is log-time order within each file and file order across
   * files; readers do not buffer whole files to sort them.
   */
  messages(): AsyncIterable<RawMessage>;
  /** Losses found so far; complete once `messages()` has finished. */
  losses(): readonly ReadLoss[];
  close(): Promise<void>;
}

/**
 * Thrown for a recording that cannot be read at all. The message names the file and what to do,
 * and `path` is the offending file.
 */
export class RecordingError extends Error {
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecordingError';
    this.path = path;
  }
}
