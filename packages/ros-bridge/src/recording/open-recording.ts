import { basename, extname } from 'node:path';
import { detectKind } from './detect-format.ts';
import { openMcap } from './mcap-reader.ts';
import { openRos1Bag } from './ros1-reader.ts';
import { isRosbag2Directory, openRosbag2Directory } from './rosbag2-directory.ts';
import { RecordingError, type RecordingReader } from './recording-reader.ts';
import { openRosbag2Sqlite } from './sqlite-reader.ts';

async function openStorageFile(file: string): Promise<RecordingReader> {
  const kind = await detectKind(file);
  if (kind === 'mcap') return openMcap(file);
  if (kind === 'rosbag2-sqlite3') return openRosbag2Sqlite(file);
  if (kind === 'ros1-bag') return openRos1Bag(file);
  throw new RecordingError(
    file,
    `${file} is not an MCAP, rosbag2 SQLite3 or ROS 1 bag file (its first bytes match none of them); ` +
      'pass a recording file or a rosbag2 directory',
  );
}

/**
 * Opens a recording by content: an MCAP file, a rosbag2 SQLite3 file, a ROS 1 bag, or a rosbag2
 * directory with or without metadata.yaml.
 */
export async function openRecording(path: string): Promise<RecordingReader> {
  const kind = await detectKind(path);
  if (kind === 'directory') {
    if (await isRosbag2Directory(path)) return openRosbag2Directory(path, openStorageFile);
    throw new RecordingError(
      path,
      `${path} is a directory without metadata.yaml or rosbag2 storage files (<name>_<N>.db3 or .mcap); ` +
        'pass a rosbag2 directory, a recording file, or an image folder with a mapping',
    );
  }
  return openStorageFile(path);
}

/**
 * Names a recording for lineage and split keys: the bag name without split index and extension,
 * so the MCAP and SQLite3 forms of one drive share a name.
 */
export function recordingName(reader: RecordingReader): string {
  const first = reader.files[0] ?? reader.path;
  const stem = basename(first, extname(first));
  return stem.replace(/_\d+$/, '');
}
