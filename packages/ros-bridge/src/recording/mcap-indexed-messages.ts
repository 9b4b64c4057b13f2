import { Opcode, type McapIndexedReader, type TypedMcapRecords } from '@mcap/core';
import type { McapChannelRegistry } from './mcap-channel-registry.ts';
import { decodeChunk } from './mcap-chunk.ts';
import type { McapFile } from './mcap-file.ts';
import { formatBytes, formatCount, formatLogTime } from './mcap-loss-text.ts';
import {
  messageIndexEntryCount,
  parseChunkHeader,
  readLength,
  recordName,
  RECORD_PREFIX_LENGTH,
  viewOf,
} from './mcap-records.ts';
import { SortedRuns } from './sorted-runs.ts';
import type { RawMessage, ReadLoss } from './recording-reader.ts';

type ChunkIndex = TypedMcapRecords['ChunkIndex'];

export interface IndexedReadContext {
  file: McapFile;
  registry: McapChannelRegistry;
  /** Initialized on `file`; supplies the chunk indexes and statistics from the summary. */
  summary: McapIndexedReader;
  losses: ReadLoss[];
}

/**
 * Yields the messages of an indexed MCAP file in log-time order. Chunks are read one at a time in
 * the order of their start times; a chunk is held only while a later-starting chunk overlaps it.
 * A chunk that fails to read or decode is skipped and recorded as a loss.
 */
export async function* readIndexedMessages(context: IndexedReadContext): AsyncGenerator<RawMessage> {
  const { summary } = context;
  const fileOrder = [...summary.chunkIndexes].sort((a, b) => compareBigInt(a.chunkStartOffset, b.chunkStartOffset));
  const chunkNumbers = new Map(fileOrder.map((chunkIndex, index) => [chunkIndex, index + 1]));
  const timeOrder = [...fileOrder].sort((a, b) => compareBigInt(a.messageStartTime, b.messageStartTime));

  const runs = new SortedRuns();
  let delivered = 0;
  let lostWithKnownCount = 0;
  let lostWithUnknownCount = false;

  for (const chunkIndex of timeOrder) {
    for (const message of runs.drain(chunkIndex.messageStartTime)) yield message;
    const chunkNumber = chunkNumbers.get(chunkIndex) ?? 0;
    const result = await readChunk(context, chunkIndex, chunkNumber);
    if (result.ok) {
      delivered += result.messages.length;
      runs.add(result.messages);
    } else if (result.lostMessages === null) {
      lostWithUnknownCount = true;
    } else {
      lostWithKnownCount += result.lostMessages;
    }
  }
  for (const message of runs.drain(null)) yield message;

  const declared = summary.statistics?.messageCount;
  const accounted = delivered + lostWithKnownCount + context.registry.orphanCount;
  if (declared !== undefined && !lostWithUnknownCount && BigInt(accounted) < declared) {
    const missing = Number(declared) - accounted;
    context.losses.push({
      file: context.file.path,
      bytes: 0,
      messages: missing,
      startTime: null,
      endTime: null,
      reason:
        `The summary states ${formatCount(Number(declared))} messages, but the chunk indexes lead to ` +
        `${formatCount(accounted)}, so ${formatCount(missing)} messages were not read. They may be stored ` +
        'outside chunks, where no chunk index points.',
    });
  }
}

type ChunkReadResult = { ok: true; messages: RawMessage[] } | { ok: false; lostMessages: number | null };

async function readChunk(context: IndexedReadContext, chunkIndex: ChunkIndex, chunkNumber: number): Promise<ChunkReadResult> {
  const { file, registry } = context;
  const offset = Number(chunkIndex.chunkStartOffset);
  const length = Number(chunkIndex.chunkLength);
  const record = await file.read(offset, length);

  let problem: string;
  if (record.length < length) {
    problem = `the chunk index points past the end of the file (${formatBytes(file.size)})`;
  } else if (record[0] !== Opcode.CHUNK) {
    problem = `the chunk index points to a ${recordName(record[0] ?? 0)} record`;
  } else {
    const contentLength = readLength(viewOf(record), 1);
    const header =
      RECORD_PREFIX_LENGTH + contentLength === length ? parseChunkHeader(record, contentLength) : undefined;
    if (header === undefined) {
      problem = 'the chunk header fields are invalid or disagree with the chunk index';
    } else {
      const decoded = await decodeChunk(record, header, registry, file.path);
      if (decoded.ok) {
        registry.addOrphans(decoded.records.orphans);
        return { ok: true, messages: decoded.messages };
      }
      problem = decoded.problem;
    }
  }

  const lostMessages = await countIndexedMessages(file, chunkIndex);
  const countText =
    lostMessages === null
      ? 'The file has no message index for it, so the number of lost messages is unknown.'
      : `Its message index lists ${formatCount(lostMessages)} messages.`;
  context.losses.push({
    file: file.path,
    bytes: length,
    messages: lostMessages,
    startTime: chunkIndex.messageStartTime,
    endTime: chunkIndex.messageEndTime,
    reason:
      `Chunk ${chunkNumber} at byte ${formatBytes(offset)} (${formatBytes(length)} bytes, log times ` +
      `${formatLogTime(chunkIndex.messageStartTime)} to ${formatLogTime(chunkIndex.messageEndTime)}) ` +
      `was skipped because ${problem}. ${countText}`,
  });
  return { ok: false, lostMessages };
}

/** Sums the entries of a chunk's Message Index records, or returns null when it has none. */
async function countIndexedMessages(file: McapFile, chunkIndex: ChunkIndex): Promise<number | null> {
  const indexLength = Number(chunkIndex.messageIndexLength);
  if (indexLength === 0) return null;
  const start = Number(chunkIndex.chunkStartOffset + chunkIndex.chunkLength);
  const bytes = await file.read(start, indexLength);
  const view = viewOf(bytes);
  let count = 0;
  let offset = 0;
  while (offset + RECORD_PREFIX_LENGTH <= bytes.length) {
    const recordEnd = offset + RECORD_PREFIX_LENGTH + readLength(view, offset + 1);
    if (recordEnd > bytes.length) break;
    if (bytes[offset] === Opcode.MESSAGE_INDEX) count += messageIndexEntryCount(bytes.subarray(offset, recordEnd));
    offset = recordEnd;
  }
  return count;
}

function compareBigInt(a: bigint, b: bigint): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
