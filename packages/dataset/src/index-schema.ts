import Database from 'better-sqlite3';
import { DatasetStoreError } from './dataset-store-error.ts';

/**
 * Schema version stored in the index's `user_version`. Raise it with every schema change.
 * Version 2 added the pack tables. A version 1 index is read and written as it is, and the first
 * snapshot whose blobs go to a pack adds the tables (`addPackTables`).
 * Version 3 keeps in `snapshot_samples` only the members that each snapshot added, where versions 1
 * and 2 copied every member of the parent into each new snapshot. Older indexes are read as they
 * are, and the first snapshot commit converts them (`useDeltaMembership`).
 */
export const SCHEMA_VERSION = 3;

/** Oldest schema version that this code opens. */
const OLDEST_SCHEMA_VERSION = 1;

/** Schema version that added the pack tables. */
const PACK_SCHEMA_VERSION = 2;

/** Schema version from which `snapshot_samples` holds only added members. */
export const DELTA_MEMBERSHIP_SCHEMA_VERSION = 3;

/** `application_id` of a fieldloop index: the ASCII bytes `fldp`. */
export const APPLICATION_ID = 0x666c6470;

/**
 * Tables of the index. Labels and tags are JSON text. A sample row keeps the first source it was
 * seen in, and lineage keeps every source. `first_version` columns name the snapshot whose commit
 * wrote the row.
 */
const SCHEMA_SQL = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE snapshots (
  version INTEGER PRIMARY KEY CHECK (version >= 1),
  manifest_hash TEXT NOT NULL UNIQUE,
  parent_hash TEXT REFERENCES snapshots (manifest_hash),
  created_at TEXT NOT NULL,
  note TEXT NOT NULL,
  added INTEGER NOT NULL CHECK (added >= 0),
  stats TEXT NOT NULL
) STRICT;

CREATE TABLE split_keys (
  key TEXT PRIMARY KEY,
  split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
  first_version INTEGER NOT NULL REFERENCES snapshots (version)
) STRICT;

CREATE TABLE samples (
  id TEXT PRIMARY KEY,
  image_sha256 TEXT NOT NULL,
  input_sha256 TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  labels TEXT NOT NULL,
  tags TEXT NOT NULL,
  recording TEXT NOT NULL,
  topic TEXT NOT NULL,
  log_time_ns TEXT,
  file TEXT NOT NULL,
  split_key TEXT NOT NULL REFERENCES split_keys (key),
  first_version INTEGER NOT NULL REFERENCES snapshots (version)
) STRICT;

CREATE TABLE lineage (
  sample_id TEXT NOT NULL REFERENCES samples (id),
  recording TEXT NOT NULL,
  topic TEXT NOT NULL,
  log_time_ns TEXT,
  file TEXT NOT NULL,
  split_key TEXT NOT NULL REFERENCES split_keys (key),
  image_sha256 TEXT NOT NULL,
  first_version INTEGER NOT NULL REFERENCES snapshots (version)
) STRICT;

CREATE UNIQUE INDEX lineage_by_sighting ON lineage (sample_id, recording, topic, ifnull(log_time_ns, ''), file);

CREATE TABLE snapshot_samples (
  version INTEGER NOT NULL REFERENCES snapshots (version),
  sample_id TEXT NOT NULL REFERENCES samples (id),
  split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
  added_in INTEGER NOT NULL REFERENCES snapshots (version),
  PRIMARY KEY (version, sample_id)
) STRICT, WITHOUT ROWID;
`;

/**
 * From schema version 3, a `snapshot_samples` row names a member that its snapshot added
 * (`version` equals `added_in`), and a snapshot's members are the rows of its own version and of
 * every ancestor. This index reads them in id order.
 */
const DELTA_MEMBERSHIP_SQL = `
CREATE INDEX IF NOT EXISTS snapshot_samples_by_sample ON snapshot_samples (sample_id, version);
`;

/**
 * Tables of the pack files in `packs/`. `committed_bytes` is the length of a pack up to the end
 * of its last committed record, so bytes after it are an uncommitted tail. A `packed_blobs` row
 * gives the offset of a blob's bytes in its pack, after the record header.
 */
const PACK_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS blob_packs (
  id INTEGER PRIMARY KEY CHECK (id >= 1),
  committed_bytes INTEGER NOT NULL CHECK (committed_bytes >= 0)
) STRICT;

CREATE TABLE IF NOT EXISTS packed_blobs (
  sha256 TEXT PRIMARY KEY,
  pack INTEGER NOT NULL REFERENCES blob_packs (id),
  offset INTEGER NOT NULL CHECK (offset >= 0),
  length INTEGER NOT NULL CHECK (length >= 0)
) STRICT, WITHOUT ROWID;
`;

/**
 * Opens the index database of a store, creating the schema when the file is new. Writers get WAL
 * mode, `synchronous=FULL` and `foreign_keys=ON`. Throws a DatasetStoreError when the file belongs
 * to another application or has a schema newer than SCHEMA_VERSION.
 */
export function openIndexDatabase(
  path: string,
  storeDir: string,
  readOnly: boolean,
  initialMeta: Record<string, string>,
): Database.Database {
  let db: Database.Database;
  try {
    db = readOnly ? new Database(path, { readonly: true, fileMustExist: true }) : new Database(path);
  } catch (error) {
    throw new DatasetStoreError(
      'not-a-store',
      storeDir,
      `Cannot open the index ${path} of store ${storeDir}: ${(error as Error).message}. ` +
        'Check that the directory is a fieldloop data set store and that it is readable.',
      { cause: error },
    );
  }
  try {
    if (!readOnly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
    }
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    checkSchema(db, path, storeDir, readOnly, initialMeta);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function checkSchema(
  db: Database.Database,
  path: string,
  storeDir: string,
  readOnly: boolean,
  initialMeta: Record<string, string>,
): void {
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  const userVersion = db.pragma('user_version', { simple: true }) as number;
  const tableCount = db.prepare('SELECT count(*) FROM sqlite_master').pluck().get() as number;

  if (applicationId === 0 && userVersion === 0 && tableCount === 0) {
    if (readOnly) {
      throw new DatasetStoreError(
        'not-a-store',
        storeDir,
        `Store ${storeDir} has an empty index ${path}. Open it once for writing to create the store.`,
      );
    }
    createSchema(db, initialMeta);
    return;
  }
  if (applicationId !== APPLICATION_ID) {
    throw new DatasetStoreError(
      'not-a-store',
      storeDir,
      `${path} is not the index of a fieldloop data set store (SQLite application_id ${applicationId}). ` +
        'Choose an empty or new directory for the store.',
    );
  }
  if (userVersion > SCHEMA_VERSION) {
    throw new DatasetStoreError(
      'schema-too-new',
      storeDir,
      `Store ${storeDir} has index schema version ${userVersion}, but this fieldloop reads up to version ` +
        `${SCHEMA_VERSION}. Upgrade fieldloop to open it.`,
    );
  }
  if (userVersion < OLDEST_SCHEMA_VERSION) {
    throw new DatasetStoreError(
      'schema-too-old',
      storeDir,
      `Store ${storeDir} has index schema version ${userVersion}, and this fieldloop has no migration from ` +
        `it to version ${SCHEMA_VERSION}. Open it with the fieldloop version that created it.`,
    );
  }
}

/**
 * Adds the pack tables to a version 1 index and sets its version to 2. Does nothing to a version 2
 * index. Call it inside the transaction that writes the first pack rows, so that an index gets
 * version 2 only together with them.
 */
export function addPackTables(db: Database.Database): void {
  if ((db.pragma('user_version', { simple: true }) as number) >= PACK_SCHEMA_VERSION) return;
  db.exec(PACK_SCHEMA_SQL);
  db.pragma(`user_version = ${PACK_SCHEMA_VERSION}`);
}

/**
 * Converts a version 1 or 2 index to version 3: drops the member rows that each snapshot copied
 * from its parent, adds the index by sample id, and adds the pack tables where they are missing.
 * Does nothing to a version 3 index. Call it inside the transaction of a snapshot commit, so that
 * an index changes layout only together with a commit that succeeds.
 */
export function useDeltaMembership(db: Database.Database): void {
  if ((db.pragma('user_version', { simple: true }) as number) >= DELTA_MEMBERSHIP_SCHEMA_VERSION) return;
  db.exec(PACK_SCHEMA_SQL);
  db.exec('DELETE FROM snapshot_samples WHERE version != added_in');
  db.exec(DELTA_MEMBERSHIP_SQL);
  db.pragma(`user_version = ${DELTA_MEMBERSHIP_SCHEMA_VERSION}`);
}

/**
 * Indexes by blob hash that stores created before this version kept, `samples (input_sha256)` and
 * `lineage (image_sha256)`. Only recovery looks blobs up by hash, and it builds a temporary
 * table for that (`StoreIndex.isBlobReferenced`). Keeping the indexes cost every commit a random
 * B-tree insert per sample into each, which made commits about a fifth slower
 * (`bench/snapshot-commits.ts`, 32 commits of 1000 samples).
 */
const BLOB_HASH_INDEXES = ['samples_by_input', 'lineage_by_image'];

/**
 * Drops the indexes of `BLOB_HASH_INDEXES` where an older store has them. Call it inside the
 * transaction of a snapshot commit. Older fieldloop versions read and write the store without
 * them, only their recovery is slower.
 */
export function dropBlobHashIndexes(db: Database.Database): void {
  for (const name of BLOB_HASH_INDEXES) db.exec(`DROP INDEX IF EXISTS ${name}`);
}

function createSchema(db: Database.Database, initialMeta: Record<string, string>): void {
  db.transaction(() => {
    db.exec(SCHEMA_SQL);
    db.exec(PACK_SCHEMA_SQL);
    db.exec(DELTA_MEMBERSHIP_SQL);
    const insertMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (const [key, value] of Object.entries(initialMeta)) insertMeta.run(key, value);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
