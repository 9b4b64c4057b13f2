import { constants } from 'node:fs';
import { copyFile, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { RecordingError } from './recording-reader.ts';

/** An SQLite database opened read-only, and the temporary copy it reads when the original is in WAL mode. */
export interface ReadOnlySqlite {
  db: Database.Database;
  /** The file that SQLite reads: the original, or its temporary copy for WAL databases. */
  openedFile: string;
  /** True when the original was in WAL mode and SQLite reads a copy. */
  copied: boolean;
  /** Closes the connection and deletes the temporary copy. */
  close(): Promise<void>;
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
const SQLITE_HEADER_BYTES = 100;
/** Header bytes 18 and 19 (file format write and read version) are 2 in WAL mode and 1 otherwise. */
const WAL_FORMAT_VERSION = 2;

async function readHeader(file: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'not found' : `cannot be opened (${(error as Error).message})`;
    throw new RecordingError(file, `${file} ${problem}; pass an existing rosbag2 .db3 file`, { cause: error });
  }
  try {
    const header = Buffer.alloc(SQLITE_HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    return header.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function openConnection(file: string, reported: string): Database.Database {
  try {
    return new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new RecordingError(reported, `failed to open ${reported} as SQLite: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Opens an SQLite file read-only without writing anything beside it.
 *
 * A read-only connection to a WAL-mode database still creates `-wal` and `-shm` files next to
 * it. The `file:<path>?immutable=1` URI would prevent that, but better-sqlite3 12 builds SQLite
 * with SQLITE_USE_URI=0 and opens without SQLITE_OPEN_URI, so it reads such a name as a plain
 * file name. WAL-mode files are therefore copied into a temporary directory first, together
 * with an existing `-wal` file so that committed transactions not yet checkpointed are read
 * too. Files in rollback-journal mode without a `-wal` file beside them are opened in place.
 */
export async function openSqliteReadOnly(file: string): Promise<ReadOnlySqlite> {
  const header = await readHeader(file);
  if (header.length < SQLITE_HEADER_BYTES || !header.subarray(0, SQLITE_HEADER.length).equals(SQLITE_HEADER)) {
    const what = header.length === 0 ? 'is empty' : 'does not start with the SQLite header "SQLite format 3"';
    throw new RecordingError(file, `${file} is not an SQLite database: it ${what}. Pass a rosbag2 .db3 file`);
  }
  // SQLite also opens a `-wal` file that lies beside a rollback-journal database, and then creates `-shm`.
  const walMode =
    header[18] === WAL_FORMAT_VERSION || header[19] === WAL_FORMAT_VERSION || (await exists(`${file}-wal`));
  if (!walMode) {
    const db = openConnection(file, file);
    return {
      db,
      openedFile: file,
      copied: false,
      close: async () => {
        db.close();
      },
    };
  }

  const copyDir = await mkdtemp(join(tmpdir(), 'fieldloop-sqlite-'));
  const copy = join(copyDir, basename(file));
  try {
    // NOTE: the copy costs time and temporary disk space equal to the file size.
    await copyFile(file, copy, constants.COPYFILE_FICLONE);
    if (await exists(`${file}-wal`)) await copyFile(`${file}-wal`, `${copy}-wal`, constants.COPYFILE_FICLONE);
    const db = openConnection(copy, file);
    return {
      db,
      openedFile: copy,
      copied: true,
      close: async () => {
        db.close();
        await rm(copyDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(copyDir, { recursive: true, force: true });
    if (error instanceof RecordingError) throw error;
    throw new RecordingError(
      file,
      `failed to copy the WAL-mode SQLite file ${file} to ${copyDir} for read-only access: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
