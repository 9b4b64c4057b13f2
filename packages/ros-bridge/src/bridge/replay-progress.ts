import { createHash } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger, SampleRecord } from '@fieldloop/contracts';
import type { SampleBlobs, SampleSink } from '../ingest/sample-sink.ts';
import type { Mapping } from '../mapping/mapping.ts';

/** Contents of `<queue>.replay.json`: the replay it describes, and how many of its samples are queued. */
interface ReplayProgressFile {
  /** Resolved path, size and modification time of the recording, and a hash of the mapping. */
  key: string;
  /** Samples of the replay, in the order the ingest pipeline emits them, that the queue has synced. */
  queued: number;
}

/** Samples queued between two writes of the progress file. */
const WRITE_EVERY = 32;

function replayKey(recording: string, mapping: Mapping): string {
  const stats = statSync(recording);
  // Mappings hold times as bigint nanoseconds, which JSON cannot write as numbers.
  const text = JSON.stringify(mapping, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));
  const mappingHash = createHash('sha256').update(text).digest('hex');
  return `${resolve(recording)}|${stats.size}|${stats.mtimeMs}|${mappingHash}`;
}

function readProgress(path: string): ReplayProgressFile | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<ReplayProgressFile>;
    return typeof parsed.key === 'string' && Number.isSafeInteger(parsed.queued) ? (parsed as ReplayProgressFile) : null;
  } catch {
    return null;
  }
}

/**
 * A sample sink in front of the uplink that lets a replay resume. The ingest pipeline emits the
 * samples of one recording and mapping in the same order on every run, so the sink counts the
 * samples whose `add` resolved (synced to the queue) and stores that count beside the queue. A
 * later run of the same replay with the same queue skips that many samples instead of queueing
 * them again. A changed recording or mapping starts from the first sample. The file is written
 * without a sync: after a power loss it may count fewer samples, which the collector then drops
 * as duplicates, but never more.
 */
export class ReplayProgressSink implements SampleSink {
  /** Samples skipped because an earlier run queued them. */
  skipped = 0;
  private readonly path: string;
  private readonly key: string;
  private readonly inner: SampleSink;
  private readonly resumeFrom: number;
  private seen = 0;
  private queued: number;
  private written: number;

  constructor(options: { path: string; recording: string; mapping: Mapping; inner: SampleSink; log: Logger }) {
    this.path = options.path;
    this.inner = options.inner;
    this.key = replayKey(options.recording, options.mapping);
    const earlier = readProgress(options.path);
    this.resumeFrom = earlier !== null && earlier.key === this.key ? earlier.queued : 0;
    this.queued = this.resumeFrom;
    this.written = this.resumeFrom;
    if (this.resumeFrom > 0) {
      options.log.info({ recording: options.recording, alreadyQueued: this.resumeFrom, progress: options.path }, 'resuming the replay after the samples an earlier run queued');
    }
  }

  async add(record: SampleRecord, blobs: SampleBlobs): Promise<void> {
    this.seen += 1;
    if (this.seen <= this.resumeFrom) {
      this.skipped += 1;
      return;
    }
    await this.inner.add(record, blobs);
    this.queued = this.seen;
    if (this.queued - this.written >= WRITE_EVERY) this.write();
  }

  /** Stores the count of queued samples. Call it when the replay ends. */
  finish(): void {
    if (this.queued !== this.written) this.write();
  }

  private write(): void {
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ key: this.key, queued: this.queued } satisfies ReplayProgressFile)}\n`);
    renameSync(temporary, this.path);
    this.written = this.queued;
  }
}
