import type Database from 'better-sqlite3';
import { addPackTables } from './index-schema.ts';

/** Location of a packed blob's bytes: its pack, the offset after its record header, and its length. */
export interface PackedBlobEntry {
  sha256: string;
  pack: number;
  offset: number;
  length: number;
}

/** A row of `blob_packs`. */
export interface PackRow {
  id: number;
  committed_bytes: number;
}

/** Rows per query when paging through the packed blobs. */
const PAGE_SIZE = 1000;

/**
 * The pack tables of a store's index. A version 1 index has none until the first pack commit adds
 * them, so the lookups treat missing tables as empty and check again at the next call, because a
 * writer in another process may add them at any time.
 */
export class PackIndex {
  private readonly db: Database.Database;
  /** Prepared statements, created once the tables exist. */
  private statements: PackStatements | null = null;

  constructor(db: Database.Database) {
    this.db = db;
  }

  find(sha256: string): PackedBlobEntry | undefined {
    return this.prepared()?.find.get(sha256);
  }

  packs(): PackRow[] {
    return this.prepared()?.packs.all() ?? [];
  }

  /** Yields the hash of every packed blob in ascending order, one page of rows per query. */
  *hashes(): Generator<string> {
    const statements = this.prepared();
    if (statements === null) return;
    let after = '';
    for (;;) {
      const rows = statements.hashPage.all(after, PAGE_SIZE);
      yield* rows;
      const last = rows.at(-1);
      if (last === undefined || rows.length < PAGE_SIZE) return;
      after = last;
    }
  }

  /**
   * Runs `step` in one SQLite transaction together with recording the new committed length of
   * each pack in `packs` and the entries of the blobs in them. The first pack of a version 1 index
   * adds the pack tables in the same transaction. An entry for a blob that is already packed is
   * skipped, so the earlier copy stays the one read. With no packs only `step` runs.
   */
  commit(packs: readonly PackRow[], entries: readonly PackedBlobEntry[], step: () => void): void {
    const hadTables = this.prepared() !== null;
    try {
      this.db
        .transaction(() => {
          if (packs.length > 0) {
            addPackTables(this.db);
            const statements = this.prepared() as PackStatements;
            for (const pack of packs) statements.upsertPack.run(pack);
            for (const entry of entries) statements.insertEntry.run(entry);
          }
          step();
        })
        .immediate();
    } catch (error) {
      // The roll-back removed tables that this transaction added, and with them the statements.
      if (!hadTables) this.statements = null;
      throw error;
    }
  }

  /** Deletes a blob's entry. Its bytes stay in the pack file. */
  delete(sha256: string): void {
    this.prepared()?.deleteEntry.run(sha256);
  }

  /** Returns the prepared statements, or null while the index has no pack tables. */
  private prepared(): PackStatements | null {
    if (this.statements !== null) return this.statements;
    const found = this.db
      .prepare<[], number>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('blob_packs', 'packed_blobs')")
      .pluck()
      .get();
    if (found !== 2) return null;
    this.statements = {
      find: this.db.prepare<[string], PackedBlobEntry>('SELECT sha256, pack, offset, length FROM packed_blobs WHERE sha256 = ?'),
      packs: this.db.prepare<[], PackRow>('SELECT id, committed_bytes FROM blob_packs ORDER BY id'),
      hashPage: this.db
        .prepare<[string, number], string>('SELECT sha256 FROM packed_blobs WHERE sha256 > ? ORDER BY sha256 LIMIT ?')
        .pluck(),
      upsertPack: this.db.prepare<[PackRow]>(
        `INSERT INTO blob_packs (id, committed_bytes) VALUES (@id, @committed_bytes)
         ON CONFLICT (id) DO UPDATE SET committed_bytes = excluded.committed_bytes`,
      ),
      insertEntry: this.db.prepare<[PackedBlobEntry]>(
        'INSERT OR IGNORE INTO packed_blobs (sha256, pack, offset, length) VALUES (@sha256, @pack, @offset, @length)',
      ),
      deleteEntry: this.db.prepare<[string]>('DELETE FROM packed_blobs WHERE sha256 = ?'),
    };
    return this.statements;
  }
}

interface PackStatements {
  find: Database.Statement<[string], PackedBlobEntry>;
  packs: Database.Statement<[], PackRow>;
  hashPage: Database.Statement<[string, number], string>;
  upsertPack: Database.Statement<[PackRow]>;
  insertEntry: Database.Statement<[PackedBlobEntry]>;
  deleteEntry: Database.Statement<[string]>;
}
