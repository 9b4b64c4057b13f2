import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RecordingError } from './recording-reader.ts';

/** The storage files of a rosbag2 directory found by name, for bags without metadata.yaml. */
export interface Rosbag2StorageFiles {
  /** `sqlite3` for `.db3` files, `mcap` for `.mcap` files: the metadata.yaml storage identifier. */
  storageIdentifier: 'sqlite3' | 'mcap';
  /** File names relative to the directory, ordered by split index. */
  relativeFilePaths: string[];
}

/** rosbag2 names split files `<bag name>_<index>.<extension>`, with the index counting from 0. */
const SPLIT_FILE_PATTERN = /^(.+)_(\d+)\.(db3|mcap)$/;

interface SplitFile {
  name: string;
  stem: string;
  index: number;
  extension: 'db3' | 'mcap';
}

function parseSplitFileName(name: string): SplitFile | null {
  const match = SPLIT_FILE_PATTERN.exec(name);
  if (!match) return null;
  const [, stem, index, extension] = match;
  if (stem === undefined || index === undefined || (extension !== 'db3' && extension !== 'mcap')) return null;
  return { name, stem, index: Number(index), extension };
}

/** Lists the regular files in `dir` whose names match the rosbag2 split file pattern. */
export async function findSplitFileNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names: string[] = [];
  for (const entry of entries) {
    if (parseSplitFileName(entry.name) === null) continue;
    // A symbolic link counts when it leads to a file, as rosbag2 would open it.
    const isFile = entry.isFile() || (entry.isSymbolicLink() && (await stat(join(dir, entry.name)).then((info) => info.isFile(), () => false)));
    if (isFile) names.push(entry.name);
  }
  return names;
}

/**
 * Finds the storage files of a rosbag2 directory by name, `<bag name>_<N>.db3` or
 * `<bag name>_<N>.mcap`, ordered by N as a number (so `_10` follows `_9`). Throws a
 * RecordingError when there are none, or when the directory contains files of more than one bag
 * name or storage format.
 */
export async function listRosbag2StorageFiles(dir: string): Promise<Rosbag2StorageFiles> {
  let names: string[];
  try {
    names = await findSplitFileNames(dir);
  } catch (error) {
    throw new RecordingError(dir, `failed to list the rosbag2 directory ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const files = names.map(parseSplitFileName).filter((file): file is SplitFile => file !== null);
  if (files.length === 0) {
    throw new RecordingError(
      dir,
      `${dir} has no metadata.yaml and no storage files named <bag name>_<N>.db3 or <bag name>_<N>.mcap; ` +
        'pass a rosbag2 directory',
    );
  }
  const groups = new Set(files.map((file) => `${file.stem}_<N>.${file.extension}`));
  if (groups.size > 1) {
    throw new RecordingError(
      dir,
      `${dir} has no metadata.yaml and contains storage files of more than one bag: ${[...groups].sort().join(', ')}. ` +
        'Move each bag into its own directory',
    );
  }
  files.sort((a, b) => a.index - b.index);
  const extension = files[0]?.extension;
  return {
    storageIdentifier: extension === 'mcap' ? 'mcap' : 'sqlite3',
    relativeFilePaths: files.map((file) => file.name),
  };
}
