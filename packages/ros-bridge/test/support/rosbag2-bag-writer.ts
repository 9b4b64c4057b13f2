import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';

/** A topic to write into a test bag. */
export interface TopicSpec {
  name: string;
  type: string;
  /** Defaults to `cdr`. */
  serializationFormat?: string;
  /** Defaults to an empty string. */
  offeredQosProfiles?: string;
  /** Row for `message_definitions` (schema version 4); none when absent. */
  definition?: { encoding: string; text: string };
}

/** A message to write; `topicId` overrides the id of `topic`, to write rows without a topic. */
export interface MessageSpec {
  topic: string;
  timestamp: bigint;
  data: Uint8Array;
  topicId?: number;
}

/** The content and table layout of one rosbag2 `.db3` test file. */
export interface Db3Spec {
  /**
   * Table layout: 1 has topics without `offered_qos_profiles`; 2 adds it; 3 adds the `schema`
   * and `metadata` tables; 4 adds `type_description_hash` and `message_definitions`.
   */
  schemaVersion: 1 | 2 | 3 | 4;
  topics: TopicSpec[];
  /** Inserted in this order, so tests can store rows out of log-time order. */
  messages: MessageSpec[];
  /** Defaults to `delete`. */
  journalMode?: 'delete' | 'wal';
  /** Defaults to true, as in every rosbag2 release since the index was added. */
  timestampIndex?: boolean;
  /** YAML texts for the `metadata` table (schema 3 and 4), in row order. */
  metadataRows?: string[];
  /** Defaults to `humble`. */
  rosDistro?: string;
}

/** Creates an empty directory under the system temporary directory; remove it with removeTempDir. */
export function makeTempDir(prefix = 'fieldloop-rosbag2-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function removeTempDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

function createTables(db: Database.Database, spec: Db3Spec): void {
  const version = spec.schemaVersion;
  const qosColumn = version >= 2 ? ', offered_qos_profiles TEXT NOT NULL' : '';
  const hashColumn = version >= 4 ? ', type_description_hash TEXT NOT NULL' : '';
  if (version >= 3) {
    db.exec('CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL)');
    db.exec('CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL)');
  }
  db.exec(
    'CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, ' +
      `serialization_format TEXT NOT NULL${qosColumn}${hashColumn})`,
  );
  if (version >= 4) {
    db.exec(
      'CREATE TABLE message_definitions(id INTEGER PRIMARY KEY, topic_type TEXT NOT NULL, encoding TEXT NOT NULL, ' +
        'encoded_message_definition TEXT NOT NULL, type_description_hash TEXT NOT NULL)',
    );
  }
  db.exec(
    'CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL, data BLOB NOT NULL)',
  );
  if (spec.timestampIndex ?? true) db.exec('CREATE INDEX timestamp_idx ON messages (timestamp ASC)');
}

function insertTopics(db: Database.Database, spec: Db3Spec): Map<string, number> {
  const version = spec.schemaVersion;
  const ids = new Map<string, number>();
  for (const [index, topic] of spec.topics.entries()) {
    const id = index + 1;
    const values: unknown[] = [id, topic.name, topic.type, topic.serializationFormat ?? 'cdr'];
    if (version >= 2) values.push(topic.offeredQosProfiles ?? '');
    if (version >= 4) values.push('');
    db.prepare(`INSERT INTO topics VALUES (${values.map(() => '?').join(', ')})`).run(...values);
    ids.set(topic.name, id);
    if (version >= 4 && topic.definition) {
      db.prepare(
        'INSERT INTO message_definitions (topic_type, encoding, encoded_message_definition, type_description_hash) ' +
          "VALUES (?, ?, ?, '')",
      ).run(topic.type, topic.definition.encoding, topic.definition.text);
    }
  }
  return ids;
}

/** Writes a rosbag2 SQLite3 file with the layout of the given schema version. */
export function writeRosbag2Db3(file: string, spec: Db3Spec): void {
  const db = new Database(file);
  try {
    // Test files need no durability, and fsync makes each file take hundreds of milliseconds.
    db.pragma('synchronous = OFF');
    db.pragma(spec.journalMode === 'wal' ? 'journal_mode = WAL' : 'journal_mode = MEMORY');
    createTables(db, spec);
    const topicIds = insertTopics(db, spec);
    if (spec.schemaVersion >= 3) {
      db.prepare('INSERT INTO schema VALUES (?, ?)').run(spec.schemaVersion, spec.rosDistro ?? 'humble');
      for (const row of spec.metadataRows ?? []) {
        db.prepare('INSERT INTO metadata (metadata_version, metadata) VALUES (?, ?)').run(5, row);
      }
    }
    const insert = db.prepare('INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (const message of spec.messages) {
        const topicId = message.topicId ?? topicIds.get(message.topic);
        if (topicId === undefined) throw new Error(`test bag: message on unknown topic ${message.topic}`);
        insert.run(topicId, message.timestamp, Buffer.from(message.data));
      }
    })();
  } finally {
    db.close();
  }
}

/** One storage file of a test bag, for metadata.yaml. */
export interface MetadataFileSpec {
  path: string;
  messages: MessageSpec[];
}

/** What buildMetadataYaml writes; counts and times come from the messages unless overridden. */
export interface MetadataSpec {
  version: number;
  storageIdentifier?: string;
  topics: TopicSpec[];
  files: MetadataFileSpec[];
  compressionFormat?: string;
  compressionMode?: string;
  /** Replaces the per-file message counts, to declare more messages than the files hold. */
  fileMessageCounts?: number[];
  /** Replaces per-topic message counts by topic name. */
  topicMessageCounts?: Record<string, number>;
  customData?: Record<string, string> | null;
  rosDistro?: string;
  /** Keys added to the top-level mapping, for example keys of later versions. */
  extraKeys?: Record<string, unknown>;
  /** Without the `rosbag2_bagfile_information` key, as in the `metadata` table. */
  withoutTopLevelKey?: boolean;
}

function timeRange(messages: MessageSpec[]): { start: bigint; duration: bigint } {
  if (messages.length === 0) return { start: 0n, duration: 0n };
  let start = messages[0]?.timestamp ?? 0n;
  let end = start;
  for (const message of messages) {
    if (message.timestamp < start) start = message.timestamp;
    if (message.timestamp > end) end = message.timestamp;
  }
  return { start, duration: end - start };
}

/** Builds metadata.yaml text with the keys that rosbag2 writes in the given version. */
export function buildMetadataYaml(spec: MetadataSpec): string {
  const version = spec.version;
  const all = spec.files.flatMap((file) => file.messages);
  const range = timeRange(all);
  const topics = spec.topics.map((topic) => {
    const metadata: Record<string, unknown> = {
      name: topic.name,
      type: topic.type,
      serialization_format: topic.serializationFormat ?? 'cdr',
    };
    if (version >= 4) metadata.offered_qos_profiles = topic.offeredQosProfiles ?? '';
    if (version >= 7) metadata.type_description_hash = '';
    const counted = all.filter((message) => message.topic === topic.name).length;
    return { topic_metadata: metadata, message_count: spec.topicMessageCounts?.[topic.name] ?? counted };
  });
  const info: Record<string, unknown> = {
    version,
    storage_identifier: spec.storageIdentifier ?? 'sqlite3',
    duration: { nanoseconds: range.duration },
    starting_time: { nanoseconds_since_epoch: range.start },
    message_count: all.length,
    topics_with_message_count: topics,
    relative_file_paths: spec.files.map((file) => file.path),
  };
  if (version >= 3) {
    info.compression_format = spec.compressionFormat ?? '';
    info.compression_mode = spec.compressionMode ?? '';
  }
  if (version >= 5) {
    info.files = spec.files.map((file, index) => {
      const fileRange = timeRange(file.messages);
      return {
        path: file.path,
        starting_time: { nanoseconds_since_epoch: fileRange.start },
        duration: { nanoseconds: fileRange.duration },
        message_count: spec.fileMessageCounts?.[index] ?? file.messages.length,
      };
    });
  }
  if (version >= 6) info.custom_data = spec.customData === undefined ? null : spec.customData;
  if (version >= 8) info.ros_distro = spec.rosDistro ?? 'jazzy';
  Object.assign(info, spec.extraKeys ?? {});
  return stringify(spec.withoutTopLevelKey ? info : { rosbag2_bagfile_information: info });
}

export function writeMetadataYaml(dir: string, spec: MetadataSpec): Promise<void> {
  return writeFile(join(dir, 'metadata.yaml'), buildMetadataYaml(spec));
}

/** Returns `count` payloads of distinct content, each starting with the CDR little-endian header. */
export function payloads(count: number, seed = 0): Uint8Array[] {
  return Array.from({ length: count }, (_, index) => {
    const value = seed * 1000 + index;
    return new Uint8Array([0, 1, 0, 0, value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, 7]);
  });
}
