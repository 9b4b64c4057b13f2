import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RecordingError } from './recording-reader.ts';
import { parseRosbag2Metadata } from './rosbag2-metadata-parse.ts';

export {
  LATEST_ROSBAG2_METADATA_VERSION,
  parseRosbag2Metadata,
  parseStoredRosbag2Metadata,
} from './rosbag2-metadata-parse.ts';
export { rebuildRosbag2Metadata } from './rosbag2-metadata-rebuild.ts';

/** One topic as metadata.yaml describes it (`topic_metadata`). */
export interface Rosbag2TopicMetadata {
  name: string;
  type: string;
  /** `serialization_format`, for example `cdr`. rosbag2 trusts this value over the storage file's. */
  serializationFormat: string;
  /** `offered_qos_profiles`: a YAML document stored as text, empty before version 4. */
  offeredQosProfiles: string;
  /** `type_description_hash`, empty before version 7. */
  typeDescriptionHash: string;
}

/** One entry of `topics_with_message_count`. */
export interface Rosbag2TopicInformation {
  topicMetadata: Rosbag2TopicMetadata;
  messageCount: number;
}

/** One entry of `files` (version 5 and later). */
export interface Rosbag2FileInformation {
  path: string;
  /** Log time of the file's first message, in nanoseconds since the Unix epoch. */
  startingTime: bigint;
  /** Nanoseconds from the first to the last message of the file. */
  duration: bigint;
  messageCount: number;
}

/** The content of a rosbag2 `metadata.yaml` (`rosbag2_bagfile_information`), in camelCase. */
export interface Rosbag2Metadata {
  version: number;
  /** `sqlite3` or `mcap`. */
  storageIdentifier: string;
  /** Storage files in reading order, as stored: relative to the bag directory from version 4 on. */
  relativeFilePaths: string[];
  /** Nanoseconds from the first to the last message of the bag. */
  duration: bigint;
  /** Log time of the first message, in nanoseconds since the Unix epoch. */
  startingTime: bigint;
  messageCount: number;
  topicsWithMessageCount: Rosbag2TopicInformation[];
  /** `compression_format`, for example `zstd`; empty when uncompressed and before version 3. */
  compressionFormat: string;
  /** `compression_mode`: `FILE`, `MESSAGE`, or empty (or `NONE`) when uncompressed. */
  compressionMode: string;
  /** Per-file statistics; empty before version 5. */
  files: Rosbag2FileInformation[];
  /** `custom_data` (version 6 and later); empty when absent or null. */
  customData: Record<string, string>;
  /** `ros_distro` (version 8 and later); empty when absent. */
  rosDistro: string;
  /** The metadata.yaml file this was read from, or null when it was rebuilt from the storage files. */
  metadataPath: string | null;
}

/** Reads and validates `<dir>/metadata.yaml`. Throws a RecordingError naming the file when it is missing or invalid. */
export async function readRosbag2Metadata(dir: string): Promise<Rosbag2Metadata> {
  const path = join(dir, 'metadata.yaml');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new RecordingError(
        path,
        `${path} not found. Pass a rosbag2 directory, or use rebuildRosbag2Metadata to rebuild the metadata from its storage files`,
        { cause: error },
      );
    }
    throw new RecordingError(path, `failed to read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseRosbag2Metadata(text, path);
}
