import { stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { decompress } from 'fzstd';
import {
  RecordingError,
  type RawMessage,
  type ReadLoss,
  type RecordingChannel,
  type RecordingFormat,
  type RecordingReader,
} from './recording-reader.ts';
import { Rosbag2ChannelMerge } from './rosbag2-channel-merge.ts';
import type { OpenStorageFile } from './rosbag2-metadata-rebuild.ts';
import { readRosbag2Metadata, type Rosbag2Metadata } from './rosbag2-metadata.ts';
import { findSplitFileNames, listRosbag2StorageFiles } from './rosbag2-storage-files.ts';

export type { OpenStorageFile } from './rosbag2-metadata-rebuild.ts';

const METADATA_FILE = 'metadata.yaml';
const REBUILD_ADVICE = 'delete metadata.yaml so that the metadata is rebuilt from the storage files that exist';

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Returns whether `dir` is a directory with metadata.yaml or with storage files named `<bag name>_<N>.db3` or `.mcap`. */
export async function isRosbag2Directory(dir: string): Promise<boolean> {
  try {
    if (!(await stat(dir)).isDirectory()) return false;
    if (await isFile(join(dir, METADATA_FILE))) return true;
    return (await findSplitFileNames(dir)).length > 0;
  } catch {
    return false;
  }
}

function formatOf(storageIdentifier: string, source: string): RecordingFormat {
  if (storageIdentifier === 'sqlite3') return 'rosbag2-sqlite3';
  if (storageIdentifier === 'mcap') return 'mcap';
  throw new RecordingError(
    source,
    `${source}: storage_identifier '${storageIdentifier}' is not supported; fieldloop reads sqlite3 and mcap bags`,
  );
}

/** Returns whether message payloads are zstd frames, and rejects compression that this reader cannot decompress. */
function usesMessageCompression(metadata: Rosbag2Metadata, source: string): boolean {
  const mode = metadata.compressionMode.toLowerCase();
  if (mode === '' || mode === 'none') return false;
  const format = metadata.compressionFormat.toLowerCase();
  if (mode === 'message' && format === 'zstd') return true;
  if (mode === 'file') {
    throw new RecordingError(
      source,
      `${source}: compression mode '${metadata.compressionMode}' (${metadata.compressionFormat}, whole files compressed) ` +
        'is not supported. Decompress each file (for example `zstd -d <file>`), then ' +
        REBUILD_ADVICE,
    );
  }
  throw new RecordingError(
    source,
    `${source}: compression mode '${metadata.compressionMode}' with format '${metadata.compressionFormat}' is not ` +
      "supported; fieldloop reads uncompressed bags and compression mode 'message' with format 'zstd'",
  );
}

/**
 * Resolves a `relative_file_paths` entry. From metadata version 4 on, paths are relative to the
 * bag directory. Before version 4, they start with the bag directory's own name and are relative
 * to its parent. A path not found there is looked up by file name in the bag directory, which
 * finds the files of a renamed bag directory.
 */
async function resolveStorageFile(dir: string, relativePath: string, version: number): Promise<string | null> {
  const candidates = isAbsolute(relativePath)
    ? [relativePath]
    : [join(version < 4 ? dirname(dir) : dir, relativePath), join(dir, basename(relativePath))];
  for (const candidate of candidates) {
    if (await isFile(candidate)) return candidate;
  }
  return null;
}

async function resolveStorageFiles(dir: string, metadata: Rosbag2Metadata, source: string): Promise<string[]> {
  if (metadata.relativeFilePaths.length === 0) {
    throw new RecordingError(source, `${source} lists no storage files in relative_file_paths; ${REBUILD_ADVICE}`);
  }
  const files: string[] = [];
  const missing: string[] = [];
  for (const relativePath of metadata.relativeFilePaths) {
    const file = await resolveStorageFile(dir, relativePath, metadata.version);
    if (file === null) missing.push(relativePath);
    else files.push(file);
  }
  if (missing.length > 0) {
    throw new RecordingError(
      join(dir, missing[0] ?? ''),
      `${source} lists storage file ${missing.join(', ')}, not found in ${dir}. Restore the file, or ${REBUILD_ADVICE}`,
    );
  }
  return files;
}

/** Metadata, storage format, files and compression of one rosbag2 directory. */
interface Rosbag2Layout {
  metadata: Rosbag2Metadata | null;
  format: RecordingFormat;
  files: string[];
  compressedMessages: boolean;
}

async function readLayout(dir: string): Promise<Rosbag2Layout> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (error) {
    throw new RecordingError(dir, `rosbag2 directory ${dir} not found`, { cause: error });
  }
  if (!isDirectory) throw new RecordingError(dir, `${dir} is not a directory; pass a rosbag2 directory`);

  const metadataPath = join(dir, METADATA_FILE);
  if (!(await isFile(metadataPath))) {
    const storage = await listRosbag2StorageFiles(dir);
    return {
      metadata: null,
      format: formatOf(storage.storageIdentifier, dir),
      files: storage.relativeFilePaths.map((name) => join(dir, name)),
      compressedMessages: false,
    };
  }
  const metadata = await readRosbag2Metadata(dir);
  const format = formatOf(metadata.storageIdentifier, metadataPath);
  const compressedMessages = usesMessageCompression(metadata, metadataPath);
  const files = await resolveStorageFiles(dir, metadata, metadataPath);
  return { metadata, format, files, compressedMessages };
}

/** Adds a message that failed to decompress to the ReadLoss of its file and topic. */
function tallyDecompressionLoss(losses: ReadLoss[], message: RawMessage, topic: string, error: unknown): void {
  const prefix = `Payloads on ${topic} failed to decompress as zstd`;
  let loss = losses.find((entry) => entry.file === message.file && entry.reason.startsWith(prefix));
  if (!loss) {
    const reason =
      `${prefix} although metadata.yaml sets compression mode message ` +
      `(first error: ${(error as Error).message}).`;
    loss = { file: message.file, bytes: 0, messages: 0, startTime: message.logTime, endTime: message.logTime, reason };
    losses.push(loss);
  }
  loss.bytes += message.data.byteLength;
  loss.messages = (loss.messages ?? 0) + 1;
  if (loss.startTime === null || message.logTime < loss.startTime) loss.startTime = message.logTime;
  if (loss.endTime === null || message.logTime > loss.endTime) loss.endTime = message.logTime;
}

function lostMessages(losses: readonly ReadLoss[]): number {
  return losses.reduce((sum, loss) => sum + (loss.messages ?? 0), 0);
}

class Rosbag2DirectoryReader implements RecordingReader {
  readonly format: RecordingFormat;
  readonly files: readonly string[];
  private readonly metadata: Rosbag2Metadata | null;
  private readonly compressedMessages: boolean;
  /** Losses that each file's reader reported, by file index. */
  private readonly fileLosses: (readonly ReadLoss[])[];
  /** Messages missing against metadata.yaml, and payloads that failed to decompress. */
  private readonly ownLosses: ReadLoss[] = [];
  private current: RecordingReader | null = null;
  private closed = false;

  constructor(
    readonly path: string,
    layout: Rosbag2Layout,
    private readonly merge: Rosbag2ChannelMerge,
    private readonly openFile: OpenStorageFile,
    openingLosses: (readonly ReadLoss[])[],
  ) {
    this.format = layout.format;
    this.files = layout.files;
    this.metadata = layout.metadata;
    this.compressedMessages = layout.compressedMessages;
    this.fileLosses = openingLosses;
  }

  channels(): readonly RecordingChannel[] {
    return this.merge.channels;
  }

  losses(): readonly ReadLoss[] {
    return [...this.fileLosses.flat(), ...this.ownLosses];
  }

  async *messages(): AsyncIterable<RawMessage> {
    if (this.closed) throw new RecordingError(this.path, `${this.path} was closed; open it again to read its messages`);
    this.ownLosses.length = 0;
    const foundByTopic = new Map<string, number>();
    for (const [index, file] of this.files.entries()) {
      const reader = await this.openFile(file);
      this.current = reader;
      let found = 0;
      try {
        for await (const message of reader.messages()) {
          const channel = this.merge.channelFor(file, message.channel);
          found += 1;
          foundByTopic.set(channel.topic, (foundByTopic.get(channel.topic) ?? 0) + 1);
          const data = this.payloadOf(file, channel, message);
          if (data === null) continue;
          yield { ...message, channel, data, file };
        }
      } finally {
        this.fileLosses[index] = reader.losses();
        // close() may have closed the reader already.
        if (this.current === reader) {
          this.current = null;
          await reader.close();
        }
      }
      // close() during the file ends its messages early, so the counts are incomplete.
      if (this.closed) return;
      this.checkFileCount(file, index, found);
    }
    this.checkTopicCounts(foundByTopic);
  }

  /** Returns the payload, decompressed in compression mode `message`, or null after recording a loss. */
  private payloadOf(file: string, channel: RecordingChannel, message: RawMessage): Uint8Array | null {
    if (!this.compressedMessages) return message.data;
    try {
      return decompress(message.data);
    } catch (error) {
      tallyDecompressionLoss(this.ownLosses, { ...message, file }, channel.topic, error);
      return null;
    }
  }

  /**
   * Reports a file with fewer messages than metadata.yaml `files` declares, beyond its reader's
   * own losses. A file with more messages than declared loses nothing, so it gets no ReadLoss.
   */
  private checkFileCount(file: string, index: number, found: number): void {
    const relativePath = this.metadata?.relativeFilePaths[index];
    const entry = this.metadata?.files.find(
      (info) => info.path === relativePath || basename(info.path) === basename(file),
    );
    if (!entry) return;
    const reportedLost = lostMessages(this.fileLosses[index] ?? []);
    const missing = entry.messageCount - found - reportedLost;
    if (missing <= 0) return;
    const reported = reportedLost > 0 ? `, and its reader reported ${reportedLost} lost` : '';
    this.ownLosses.push({
      file,
      bytes: 0,
      messages: missing,
      startTime: null,
      endTime: null,
      reason:
        `metadata.yaml declares ${entry.messageCount} messages in ${basename(file)} but the file contains ${found}` +
        `${reported}; the size of the missing messages is unknown.`,
    });
  }

  /** Compares per-topic counts for metadata versions before 5, which have no per-file counts. */
  private checkTopicCounts(foundByTopic: Map<string, number>): void {
    if (this.metadata === null || this.metadata.files.length > 0) return;
    const reportedLost = lostMessages(this.fileLosses.flat());
    for (const topic of this.metadata.topicsWithMessageCount) {
      const name = topic.topicMetadata.name;
      const found = foundByTopic.get(name) ?? 0;
      if (found >= topic.messageCount) continue;
      const overlap = reportedLost > 0 ? ' Some of them may be among the losses that the storage files reported.' : '';
      this.ownLosses.push({
        file: this.metadata.metadataPath ?? this.path,
        bytes: 0,
        messages: topic.messageCount - found,
        startTime: null,
        endTime: null,
        reason:
          `metadata.yaml declares ${topic.messageCount} messages on ${name} but the storage files contain ${found}; ` +
          `the size of the missing messages is unknown.${overlap}`,
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const reader = this.current;
    this.current = null;
    if (reader) await reader.close();
  }
}

/**
 * Opens a rosbag2 directory as one recording: the storage files in metadata.yaml order, or,
 * without metadata.yaml, the files named `<bag name>_<N>.db3` or `.mcap` in order of N.
 * `openFile` opens one storage file (`.db3` with openRosbag2Sqlite, `.mcap` with the MCAP
 * reader). Each file is opened once here to learn its channels and again while its messages
 * are read, so one file at a time is open. Throws a RecordingError when metadata.yaml is
 * invalid, lists a missing file, or names a storage or compression this reader cannot read.
 */
export async function openRosbag2Directory(dir: string, openFile: OpenStorageFile): Promise<RecordingReader> {
  const layout = await readLayout(dir);
  const merge = new Rosbag2ChannelMerge(layout.metadata);
  const openingLosses: (readonly ReadLoss[])[] = [];
  for (const file of layout.files) {
    const reader = await openFile(file);
    try {
      if (reader.format !== layout.format) {
        throw new RecordingError(
          file,
          `${file} is a ${reader.format} file, but the bag in ${dir} stores ${layout.format}; ` +
            `move the file out of the bag directory${layout.metadata ? ` or ${REBUILD_ADVICE}` : ''}`,
        );
      }
      merge.addFileChannels(file, reader.channels());
      openingLosses.push(reader.losses());
    } finally {
      await reader.close();
    }
  }
  return new Rosbag2DirectoryReader(dir, layout, merge, openFile, openingLosses);
}
