import type Database from 'better-sqlite3';
import { RecordingError, type EmbeddedDefinition } from './recording-reader.ts';
import { parseStoredRosbag2Metadata } from './rosbag2-metadata-parse.ts';
import type { Rosbag2Metadata } from './rosbag2-metadata.ts';

/** One row of the `topics` table. */
export interface Rosbag2SqliteTopic {
  id: number;
  name: string;
  type: string;
  serializationFormat: string;
  /** Empty in schema version 1, which has no `offered_qos_profiles` column. */
  offeredQosProfiles: string;
  /** Empty before schema version 4, which added `type_description_hash`. */
  typeDescriptionHash: string;
}

/** Contents of the rosbag2 tables of an SQLite3 file, apart from the messages. */
export interface Rosbag2SqliteTables {
  /**
   * `schema.schema_version`. Files without a `schema` table get 2 when `topics` has
   * `offered_qos_profiles` and 1 otherwise, as rosbag2 itself decides.
   */
  schemaVersion: number;
  /** `schema.ros_distro`, or empty when the file has no `schema` table. */
  rosDistro: string;
  /** Topics ordered by id. */
  topics: Rosbag2SqliteTopic[];
  /** Definitions from `message_definitions` by topic type; empty before schema version 4. */
  definitions: Map<string, EmbeddedDefinition>;
  /** The last row of the `metadata` table, or null when the table is missing, empty or invalid. */
  storedMetadata: Rosbag2Metadata | null;
}

const REQUIRED_COLUMNS: Record<'topics' | 'messages', readonly string[]> = {
  topics: ['id', 'name', 'type', 'serialization_format'],
  messages: ['id', 'topic_id', 'timestamp', 'data'],
};

/** Encoding that rosbag2 stores when it found no definition for a type. */
const UNKNOWN_DEFINITION_ENCODING = 'unknown';

function columnNames(db: Database.Database, table: string): Set<string> {
  const rows = db.pragma(`table_info(${table})`) as { name: string }[];
  return new Set(rows.map((row) => row.name));
}

function readTableNames(db: Database.Database, file: string): Set<string> {
  try {
    const rows = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    return new Set(rows.map((row) => row.name));
  } catch (error) {
    throw new RecordingError(
      file,
      `failed to read the table list of ${file}: ${(error as Error).message}. The file may be damaged or not a rosbag2 bag`,
      { cause: error },
    );
  }
}

function requireRosbag2Tables(db: Database.Database, file: string, tables: Set<string>): void {
  const missingTables = (['topics', 'messages'] as const).filter((table) => !tables.has(table));
  if (missingTables.length > 0) {
    throw new RecordingError(
      file,
      `${file} is an SQLite database but not a rosbag2 bag: table ${missingTables.join(' and table ')} missing ` +
        `(found: ${[...tables].sort().join(', ') || 'no tables'}). Pass a .db3 file that rosbag2 recorded`,
    );
  }
  for (const table of ['topics', 'messages'] as const) {
    const columns = columnNames(db, table);
    const missing = REQUIRED_COLUMNS[table].filter((column) => !columns.has(column));
    if (missing.length > 0) {
      throw new RecordingError(
        file,
        `${file} is not a rosbag2 bag: table ${table} lacks column ${missing.join(', ')} ` +
          `(found: ${[...columns].join(', ')})`,
      );
    }
  }
}

function readTopics(db: Database.Database, topicColumns: Set<string>): Rosbag2SqliteTopic[] {
  const qos = topicColumns.has('offered_qos_profiles') ? 'offered_qos_profiles' : "''";
  const hash = topicColumns.has('type_description_hash') ? 'type_description_hash' : "''";
  const rows = db
    .prepare(
      `SELECT id, name, type, serialization_format, ${qos} AS qos, ${hash} AS hash FROM topics ORDER BY id`,
    )
    .all() as {
    id: number;
    name: string;
    type: string;
    serialization_format: string;
    qos: string | null;
    hash: string | null;
  }[];
  return rows.map((row) => ({
    id: row.id,
    name: String(row.name),
    type: String(row.type),
    serializationFormat: String(row.serialization_format),
    offeredQosProfiles: row.qos ?? '',
    typeDescriptionHash: row.hash ?? '',
  }));
}

function readDefinitions(db: Database.Database, tables: Set<string>): Map<string, EmbeddedDefinition> {
  const definitions = new Map<string, EmbeddedDefinition>();
  if (!tables.has('message_definitions')) return definitions;
  const columns = columnNames(db, 'message_definitions');
  if (!['topic_type', 'encoding', 'encoded_message_definition'].every((column) => columns.has(column))) {
    return definitions;
  }
  const rows = db
    .prepare('SELECT topic_type, encoding, encoded_message_definition FROM message_definitions ORDER BY id')
    .all() as { topic_type: string; encoding: string | null; encoded_message_definition: string | null }[];
  for (const row of rows) {
    const encoding = row.encoding ?? '';
    // An empty text is valid (std_msgs/msg/Empty), so only the encoding marks a missing definition.
    if (encoding === '' || encoding === UNKNOWN_DEFINITION_ENCODING) continue;
    if (definitions.has(row.topic_type)) continue;
    definitions.set(row.topic_type, { encoding, text: row.encoded_message_definition ?? '' });
  }
  return definitions;
}

function readSchema(
  db: Database.Database,
  tables: Set<string>,
  topicColumns: Set<string>,
): { schemaVersion: number; rosDistro: string } {
  if (tables.has('schema')) {
    const row = db.prepare('SELECT schema_version, ros_distro FROM schema LIMIT 1').get() as
      | { schema_version: number; ros_distro: string | null }
      | undefined;
    if (row) return { schemaVersion: Number(row.schema_version), rosDistro: row.ros_distro ?? '' };
  }
  return { schemaVersion: topicColumns.has('offered_qos_profiles') ? 2 : 1, rosDistro: '' };
}

function readStoredMetadata(db: Database.Database, file: string, tables: Set<string>): Rosbag2Metadata | null {
  if (!tables.has('metadata')) return null;
  // rosbag2 appends a row each time it updates the metadata; the last row is the final state.
  const row = db.prepare('SELECT id, metadata FROM metadata ORDER BY id DESC LIMIT 1').get() as
    | { id: number; metadata: string | null }
    | undefined;
  if (!row || row.metadata === null) return null;
  try {
    return parseStoredRosbag2Metadata(String(row.metadata), file, `${file} (metadata table, row ${row.id})`);
  } catch (error) {
    // NOTE: an invalid row only removes the declared counts; the messages stay readable.
    if (error instanceof RecordingError) return null;
    throw error;
  }
}

/**
 * Reads the rosbag2 tables of an open SQLite3 file in any schema version from 1 on. Throws a
 * RecordingError naming the file when the `topics` or `messages` table, or one of their
 * required columns, is missing.
 */
export function readRosbag2SqliteTables(db: Database.Database, file: string): Rosbag2SqliteTables {
  const tables = readTableNames(db, file);
  requireRosbag2Tables(db, file, tables);
  const topicColumns = columnNames(db, 'topics');
  try {
    return {
      ...readSchema(db, tables, topicColumns),
      topics: readTopics(db, topicColumns),
      definitions: readDefinitions(db, tables),
      storedMetadata: readStoredMetadata(db, file, tables),
    };
  } catch (error) {
    if (error instanceof RecordingError) throw error;
    throw new RecordingError(file, `failed to read the rosbag2 tables of ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
