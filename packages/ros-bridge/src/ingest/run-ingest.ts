import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { SnapshotManifest } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { createMessageDecoder, DefinitionRegistry } from '../decode/index.ts';
import type { Mapping } from '../mapping/mapping.ts';
import { detectKind } from '../recording/detect-format.ts';
import { openRecording } from '../recording/open-recording.ts';
import { isRosbag2Directory } from '../recording/rosbag2-directory.ts';
import { ingestFolder } from './ingest-folder.ts';
import type { SourceReport } from './ingest-report.ts';
import { ingestRecording } from './ingest-recording.ts';
import type { SampleSink } from './sample-sink.ts';

export interface RunIngestOptions {
  paths: readonly string[];
  /** Store directory; required with a mapping, ignored without one. */
  storeDir: string | null;
  mapping: Mapping | null;
  /** Commit a snapshot even when a recording could not be read whole. */
  allowPartial: boolean;
  /** Directories of `<pkg>/msg/<Type>.msg` files for types a recording does not embed. */
  msgPaths: readonly string[];
  note: string;
  onSourceStart?: (path: string, index: number) => void;
  onProgress?: (messagesRead: number) => void;
}

/** Outcome of an ingest run. `problems` is empty exactly when the run succeeded. */
export interface IngestResult {
  sources: SourceReport[];
  snapshot: SnapshotManifest | null;
  problems: string[];
}

async function isImageFolder(path: string): Promise<boolean> {
  return (await detectKind(path)) === 'directory' && !(await isRosbag2Directory(path));
}

function problemsOf(report: SourceReport, allowPartial: boolean): string[] {
  const problems: string[] = [];
  for (const loss of report.losses) {
    if (!allowPartial) {
      problems.push(`${loss.file} was not read whole: ${loss.reason} Pass --allow-partial to keep what was read.`);
    }
  }
  for (const topic of report.topics) {
    if (topic.decodeErrors > 0) {
      problems.push(`${report.path}: ${topic.decodeErrors} of ${topic.messages} messages on ${topic.topic} failed to decode: ${topic.firstDecodeError}`);
    }
  }
  return problems;
}

/**
 * Ingests recordings and image folders. Without a mapping it reads, decodes and reports every
 * topic and writes nothing. With one it adds the samples of all paths to one new snapshot, which
 * is committed only when every path was read whole (or `allowPartial` is set) and every mapped
 * message decoded. Otherwise the store is left as it was.
 */
export async function runIngest(options: RunIngestOptions): Promise<IngestResult> {
  const definitions = new DefinitionRegistry();
  for (const dir of options.msgPaths) await definitions.addMsgDirectory(dir);
  const decoder = createMessageDecoder({ definitions });
  const sources: SourceReport[] = [];
  const problems: string[] = [];
  if (options.mapping && !options.storeDir) throw new Error('a mapping needs a store: pass --store DIR');
  // A store directory this ingest creates is removed again when nothing is committed to it.
  const createdStoreDir = options.mapping && options.storeDir && !existsSync(options.storeDir) ? options.storeDir : null;
  const store = options.mapping && options.storeDir ? await DatasetStore.open(options.storeDir) : null;
  const builder = store ? store.beginSnapshot({ note: options.note }) : null;
  const sink: SampleSink | null = builder;
  let committed = false;
  try {
    for (const [index, path] of options.paths.entries()) {
      options.onSourceStart?.(path, index);
      let report: SourceReport;
      if (await isImageFolder(path)) {
        report = await ingestFolder(path, { mapping: options.mapping, sink, onProgress: options.onProgress });
      } else {
        const reader = await openRecording(path);
        try {
          report = await ingestRecording(reader, { mapping: options.mapping, decoder, sink, onProgress: options.onProgress });
        } finally {
          await reader.close();
        }
      }
      sources.push(report);
      problems.push(...problemsOf(report, options.allowPartial));
    }
    if (!builder) return { sources, snapshot: null, problems };
    if (problems.length > 0) {
      await builder.abort();
      return { sources, snapshot: null, problems: [...problems, 'no snapshot was written; the store is unchanged'] };
    }
    const snapshot = await builder.commit();
    committed = true;
    return { sources, snapshot, problems };
  } catch (error) {
    await builder?.abort();
    throw error;
  } finally {
    await store?.close();
    if (createdStoreDir && !committed) await rm(createdStoreDir, { recursive: true, force: true });
  }
}
