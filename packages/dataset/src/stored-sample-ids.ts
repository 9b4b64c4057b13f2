import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { STORE_FILES } from './dataset-store.ts';
import { openIndexDatabase } from './index-schema.ts';
import { StoreIndex } from './store-index.ts';

/**
 * A read-only view of which sample ids a store has, opened and queried synchronously, for a
 * process that checks ids while another process writes the store. It takes no lock, and each
 * `has` reads the rows of every commit made before it.
 */
export class StoredSampleIds {
  private readonly index: StoreIndex;

  private constructor(index: StoreIndex) {
    this.index = index;
  }

  /** Opens the index of the store in `storeDir`, or returns null while the store has no index file yet. */
  static open(storeDir: string): StoredSampleIds | null {
    const path = join(storeDir, STORE_FILES.index);
    if (!existsSync(path)) return null;
    return new StoredSampleIds(new StoreIndex(openIndexDatabase(path, storeDir, true, {})));
  }

  has(sampleId: string): boolean {
    return this.index.hasSample(sampleId);
  }

  /**
   * Runs `body` in one read transaction, so that its `has` calls share one snapshot of the index
   * and take the file locks once instead of once each.
   */
  reading<T>(body: () => T): T {
    return this.index.db.transaction(body).deferred();
  }

  close(): void {
    this.index.close();
  }
}
