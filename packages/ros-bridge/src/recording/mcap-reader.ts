import { McapIndexedReader, Opcode } from '@mcap/core';
import { McapChannelRegistry } from './mcap-channel-registry.ts';
import { McapFile } from './mcap-file.ts';
import { readIndexedMessages } from './mcap-indexed-messages.ts';
import { isMagicPrefix, MAGIC_LENGTH, readLength, startsWithMagic, viewOf } from './mcap-records.ts';
import { readLeadingDefinitions, readStreamMessages } from './mcap-stream-messages.ts';
import {
  RecordingError,
  type RawMessage,
  type ReadLoss,
  type RecordingChannel,
  type RecordingReader,
} from './recording-reader.ts';

/** Footer record (opcode, length, summary start, summary offset start, CRC) plus the closing magic. */
const FOOTER_AND_MAGIC_LENGTH = 1 + 8 + 8 + 8 + 4 + MAGIC_LENGTH;

/**
 * Opens a rosbag2 MCAP file. A file with a valid summary and chunk indexes is read chunk by chunk
 * through the indexes. Any other file (unchunked, unindexed, truncated, or with a corrupt summary)
 * is read record by record from the start, which keeps every complete message and reports losses.
 * Throws `RecordingError` for a file that cannot be opened, is empty, or is not MCAP.
 */
export async function openMcap(path: string): Promise<RecordingReader> {
  let file: McapFile;
  try {
    file = await McapFile.open(path);
  } catch (error) {
    throw new RecordingError(path, `Failed to open MCAP file ${path}: ${errorText(error)}. Check the path and its permissions.`, {
      cause: error,
    });
  }
  try {
    return await createReader(file);
  } catch (error) {
    await file.close();
    throw error;
  }
}

async function createReader(file: McapFile): Promise<McapRecordingReader> {
  const { path, size } = file;
  if (size === 0) {
    throw new RecordingError(path, `${path} is empty (0 bytes) and contains no MCAP recording. Check that the recorder finished writing it.`);
  }
  const head = await file.read(0, MAGIC_LENGTH);
  if (!startsWithMagic(head)) {
    if (isMagicPrefix(head)) {
      throw new RecordingError(path, `${path} is truncated: it has ${size} bytes, fewer than the 8-byte MCAP magic, and contains no records. Check that the recorder finished writing it.`);
    }
    throw new RecordingError(
      path,
      `${path} is not an MCAP file: it starts with bytes ${hexBytes(head)} instead of the MCAP magic ` +
        '89 4d 43 41 50 30 0d 0a. Open rosbag2 SQLite3 bags (.db3) and ROS 1 bags (.bag) with their own readers.',
    );
  }

  const registry = new McapChannelRegistry();
  const fileEnd = await readFileEnd(file);
  let summary: McapIndexedReader | null = null;
  let summaryProblem: string | null = null;
  if (fileEnd.endsWithMagic && fileEnd.summaryStart === null) {
    summaryProblem = 'the record before the closing magic is not a Footer record';
  } else if (fileEnd.summaryStart !== null && fileEnd.summaryStart !== 0) {
    try {
      summary = await McapIndexedReader.Initialize({ readable: file.readable() });
    } catch (error) {
      summaryProblem = errorText(error);
    }
  }

  let indexed = false;
  if (summary !== null) {
    for (const schema of summary.schemasById.values()) {
      registry.addSchema(schema.id, schema.name, schema.encoding, schema.data);
    }
    for (const channel of summary.channelsById.values()) {
      registry.addChannel(channel.id, channel.schemaId, channel.topic, channel.messageEncoding);
    }
    if (summary.statistics !== undefined) registry.setStatistics(summary.statistics);
    // A summary whose Statistics count other chunks than it indexes cannot lead to every message.
    // A chunk count of 0 beside chunk indexes means the writer did not count chunks.
    const chunkCount = summary.statistics?.chunkCount || summary.chunkIndexes.length;
    indexed = summary.chunkIndexes.length > 0 && chunkCount === summary.chunkIndexes.length;
  }
  if (registry.list.length === 0) await readLeadingDefinitions(file, registry);

  return new McapRecordingReader(file, registry, {
    summary: indexed ? summary : null,
    endsWithMagic: fileEnd.endsWithMagic,
    summaryProblem,
  });
}

interface ReadPlan {
  /** The indexed reader to read through, or null to walk the records from the start. */
  summary: McapIndexedReader | null;
  endsWithMagic: boolean;
  summaryProblem: string | null;
}

class McapRecordingReader implements RecordingReader {
  readonly format = 'mcap' as const;
  readonly path: string;
  readonly files: readonly string[];
  readonly #file: McapFile;
  readonly #registry: McapChannelRegistry;
  readonly #plan: ReadPlan;
  #losses: ReadLoss[] = [];
  #closed = false;

  constructor(file: McapFile, registry: McapChannelRegistry, plan: ReadPlan) {
    this.#file = file;
    this.path = file.path;
    this.files = [file.path];
    this.#registry = registry;
    this.#plan = plan;
  }

  channels(): readonly RecordingChannel[] {
    return this.#registry.list;
  }

  messages(): AsyncIterable<RawMessage> {
    return this.#readMessages();
  }

  losses(): readonly ReadLoss[] {
    return this.#losses;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.close();
  }

  async *#readMessages(): AsyncGenerator<RawMessage> {
    if (this.#closed) {
      throw new RecordingError(this.path, `${this.path} was closed; open it again to read its messages.`);
    }
    const losses: ReadLoss[] = [];
    this.#losses = losses;
    this.#registry.clearOrphans();
    const { summary, endsWithMagic, summaryProblem } = this.#plan;
    const context = { file: this.#file, registry: this.#registry, losses };
    const source =
      summary !== null
        ? readIndexedMessages({ ...context, summary })
        : readStreamMessages({ ...context, endsWithMagic, summaryProblem });
    for await (const message of source) yield message;
    const orphanLoss = this.#registry.orphanLoss(this.path);
    if (orphanLoss !== null) losses.push(orphanLoss);
  }
}

interface FileEnd {
  endsWithMagic: boolean;
  /** The Footer's summary start offset (0 when the file has no summary), or null without a Footer. */
  summaryStart: number | null;
}

/** Reads the closing magic and the Footer record before it; a truncated file has neither. */
async function readFileEnd(file: McapFile): Promise<FileEnd> {
  if (file.size < 2 * MAGIC_LENGTH) return { endsWithMagic: false, summaryStart: null };
  const magic = await file.read(file.size - MAGIC_LENGTH, MAGIC_LENGTH);
  if (!startsWithMagic(magic)) return { endsWithMagic: false, summaryStart: null };
  if (file.size < MAGIC_LENGTH + FOOTER_AND_MAGIC_LENGTH) return { endsWithMagic: true, summaryStart: null };
  const footer = await file.read(file.size - FOOTER_AND_MAGIC_LENGTH, FOOTER_AND_MAGIC_LENGTH);
  if (footer[0] !== Opcode.FOOTER) return { endsWithMagic: true, summaryStart: null };
  return { endsWithMagic: true, summaryStart: readLength(viewOf(footer), 9) };
}

function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
