import { parse, YAMLError } from 'yaml';
import { RecordingError } from './recording-reader.ts';
import type { Rosbag2FileInformation, Rosbag2Metadata, Rosbag2TopicInformation } from './rosbag2-metadata.ts';

/** Newest metadata.yaml version whose layout this parser implements. Newer versions are parsed by its rules. */
export const LATEST_ROSBAG2_METADATA_VERSION = 9;

const TOP_LEVEL_KEY = 'rosbag2_bagfile_information';

/** Origin of a metadata document, for error messages. */
interface MetadataSource {
  /** File that RecordingError names. */
  path: string;
  /** Description used in messages, for example the path or `file.db3 (metadata table, row 2)`. */
  label: string;
  /** Advice appended to every error. */
  advice: string;
}

type YamlMap = Record<string, unknown>;

function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(source: MetadataSource, message: string): never {
  throw new RecordingError(source.path, `${source.label}: ${message}. ${source.advice}`);
}

function requireValue(source: MetadataSource, map: YamlMap, key: string, keyPath: string, sinceVersion: number): unknown {
  const value = map[key];
  if (value === undefined || value === null) {
    const since = sinceVersion > 0 ? ` (required from metadata version ${sinceVersion} on)` : '';
    fail(source, `missing required key '${keyPath}'${since}`);
  }
  return value;
}

function requireMap(source: MetadataSource, value: unknown, keyPath: string): YamlMap {
  if (!isMap(value)) fail(source, `key '${keyPath}' must be a mapping, found ${describe(value)}`);
  return value;
}

/** Reads a scalar as text the way yaml-cpp's `as<std::string>()` does: numbers and booleans become their text. */
function toText(source: MetadataSource, value: unknown, keyPath: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  fail(source, `key '${keyPath}' must be a string, found ${describe(value)}`);
}

function requireString(
  source: MetadataSource,
  map: YamlMap,
  key: string,
  keyPath: string,
  sinceVersion: number,
): string {
  return toText(source, requireValue(source, map, key, keyPath, sinceVersion), keyPath);
}

function requireInteger(
  source: MetadataSource,
  map: YamlMap,
  key: string,
  keyPath: string,
  sinceVersion: number,
): bigint {
  const value = requireValue(source, map, key, keyPath, sinceVersion);
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return BigInt(value.trim());
  fail(source, `key '${keyPath}' must be an integer, found ${describe(value)}`);
}

function requireCount(source: MetadataSource, map: YamlMap, key: string, keyPath: string, sinceVersion: number): number {
  const value = requireInteger(source, map, key, keyPath, sinceVersion);
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail(source, `key '${keyPath}' must be a count from 0 to ${Number.MAX_SAFE_INTEGER}, found ${value}`);
  }
  return Number(value);
}

function requireSequence(
  source: MetadataSource,
  map: YamlMap,
  key: string,
  keyPath: string,
  sinceVersion: number,
): unknown[] {
  const value = requireValue(source, map, key, keyPath, sinceVersion);
  if (!Array.isArray(value)) fail(source, `key '${keyPath}' must be a sequence, found ${describe(value)}`);
  return value;
}

function requireNanoseconds(
  source: MetadataSource,
  map: YamlMap,
  key: string,
  innerKey: string,
  keyPath: string,
  sinceVersion: number,
): bigint {
  const inner = requireMap(source, requireValue(source, map, key, keyPath, sinceVersion), keyPath);
  return requireInteger(source, inner, innerKey, `${keyPath}.${innerKey}`, sinceVersion);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a sequence';
  if (isMap(value)) return 'a mapping';
  return `${typeof value} ${JSON.stringify(typeof value === 'bigint' ? String(value) : value)}`;
}

function parseTopic(source: MetadataSource, value: unknown, keyPath: string, version: number): Rosbag2TopicInformation {
  const entry = requireMap(source, value, keyPath);
  const topicPath = `${keyPath}.topic_metadata`;
  const topic = requireMap(source, requireValue(source, entry, 'topic_metadata', topicPath, 1), topicPath);
  return {
    topicMetadata: {
      name: requireString(source, topic, 'name', `${topicPath}.name`, 1),
      type: requireString(source, topic, 'type', `${topicPath}.type`, 1),
      serializationFormat: requireString(source, topic, 'serialization_format', `${topicPath}.serialization_format`, 1),
      offeredQosProfiles:
        version >= 4 ? requireString(source, topic, 'offered_qos_profiles', `${topicPath}.offered_qos_profiles`, 4) : '',
      typeDescriptionHash:
        version >= 7
          ? requireString(source, topic, 'type_description_hash', `${topicPath}.type_description_hash`, 7)
          : '',
    },
    messageCount: requireCount(source, entry, 'message_count', `${keyPath}.message_count`, 1),
  };
}

function parseFile(source: MetadataSource, value: unknown, keyPath: string): Rosbag2FileInformation {
  const entry = requireMap(source, value, keyPath);
  return {
    path: requireString(source, entry, 'path', `${keyPath}.path`, 5),
    startingTime: requireNanoseconds(
      source,
      entry,
      'starting_time',
      'nanoseconds_since_epoch',
      `${keyPath}.starting_time`,
      5,
    ),
    duration: requireNanoseconds(source, entry, 'duration', 'nanoseconds', `${keyPath}.duration`, 5),
    messageCount: requireCount(source, entry, 'message_count', `${keyPath}.message_count`, 5),
  };
}

function parseCustomData(source: MetadataSource, map: YamlMap, keyPath: string, version: number): Record<string, string> {
  if (version < 6) return {};
  if (!('custom_data' in map)) fail(source, `missing required key '${keyPath}' (required in metadata version 6)`);
  const value = map.custom_data;
  // rosbag2 writes `custom_data: ~` when the recorder set none.
  if (value === null || value === undefined) return {};
  const entries = requireMap(source, value, keyPath);
  const customData: Record<string, string> = {};
  for (const [key, entry] of Object.entries(entries)) {
    customData[key] = toText(source, entry, `${keyPath}.${key}`);
  }
  return customData;
}

/**
 * Validates the fields of `rosbag2_bagfile_information` by the rules of the version it states,
 * the same keys that rosbag2's own decoder requires. Unknown keys are ignored. Throws a
 * RecordingError that names the source and the missing or invalid key.
 */
function parseFields(source: MetadataSource, value: unknown, prefix: string, metadataPath: string | null): Rosbag2Metadata {
  const map = requireMap(source, value, prefix);
  const key = (name: string): string => `${prefix}.${name}`;
  const versionValue = requireInteger(source, map, 'version', key('version'), 0);
  // rosbag2 stores the version as a C++ int.
  if (versionValue < 1n || versionValue > 2_147_483_647n) {
    fail(source, `key '${key('version')}' must be a metadata version from 1 to 2147483647, found ${versionValue}`);
  }
  const version = Number(versionValue);
  const rules = Math.min(version, LATEST_ROSBAG2_METADATA_VERSION);

  const topics = requireSequence(source, map, 'topics_with_message_count', key('topics_with_message_count'), 1);
  const paths = requireSequence(source, map, 'relative_file_paths', key('relative_file_paths'), 1);
  const files = rules >= 5 ? requireSequence(source, map, 'files', key('files'), 5) : [];

  return {
    version,
    storageIdentifier: requireString(source, map, 'storage_identifier', key('storage_identifier'), 1),
    relativeFilePaths: paths.map((entry, index) => toText(source, entry, `${key('relative_file_paths')}[${index}]`)),
    duration: requireNanoseconds(source, map, 'duration', 'nanoseconds', key('duration'), 1),
    startingTime: requireNanoseconds(
      source,
      map,
      'starting_time',
      'nanoseconds_since_epoch',
      key('starting_time'),
      1,
    ),
    messageCount: requireCount(source, map, 'message_count', key('message_count'), 1),
    topicsWithMessageCount: topics.map((entry, index) =>
      parseTopic(source, entry, `${key('topics_with_message_count')}[${index}]`, rules),
    ),
    compressionFormat: rules >= 3 ? requireString(source, map, 'compression_format', key('compression_format'), 3) : '',
    compressionMode: rules >= 3 ? requireString(source, map, 'compression_mode', key('compression_mode'), 3) : '',
    files: files.map((entry, index) => parseFile(source, entry, `${key('files')}[${index}]`)),
    customData: parseCustomData(source, map, key('custom_data'), rules),
    rosDistro: rules >= 8 ? requireString(source, map, 'ros_distro', key('ros_distro'), 8) : '',
    metadataPath,
  };
}

function parseYaml(source: MetadataSource, text: string): unknown {
  try {
    // Times are int64 nanoseconds and exceed 2^53, above which a JavaScript number loses integer precision.
    // logLevel 'error' stops the parser from printing warnings to the console.
    return parse(text, { intAsBigInt: true, logLevel: 'error' });
  } catch (error) {
    if (error instanceof YAMLError) fail(source, `invalid YAML: ${error.message}`);
    throw error;
  }
}

/**
 * Parses the text of a metadata.yaml file. `path` is the file named in errors. Throws a
 * RecordingError for invalid YAML, a missing `rosbag2_bagfile_information` key, or a key
 * that the stated version requires and the file lacks.
 */
export function parseRosbag2Metadata(text: string, path: string): Rosbag2Metadata {
  const source: MetadataSource = {
    path,
    label: path,
    advice: 'Fix the file, or delete metadata.yaml so that the metadata is rebuilt from the storage files',
  };
  const document = parseYaml(source, text);
  if (!isMap(document) || !(TOP_LEVEL_KEY in document)) {
    fail(source, `missing required key '${TOP_LEVEL_KEY}'`);
  }
  return parseFields(source, document[TOP_LEVEL_KEY], TOP_LEVEL_KEY, path);
}

/**
 * Parses a row of the `metadata` table that rosbag2 writes into SQLite3 files from schema
 * version 3 on: the same fields as metadata.yaml, without the top-level key. `label` names the
 * row in errors.
 */
export function parseStoredRosbag2Metadata(text: string, file: string, label: string): Rosbag2Metadata {
  const source: MetadataSource = {
    path: file,
    label,
    advice: 'The storage file contents are still readable without this row',
  };
  return parseFields(source, parseYaml(source, text), TOP_LEVEL_KEY, null);
}

