import { Opcode } from '@mcap/core';
import type { McapChannelRegistry } from './mcap-channel-registry.ts';
import { decodeChunk, decodeChunkPrefix } from './mcap-chunk.ts';
import type { McapFile } from './mcap-file.ts';
import { inputLengthFor } from './decoded-prefix.ts';
import { formatBytes, formatCount, formatLogTime } from './mcap-loss-text.ts';
import {
  addDefinitionRecord,
  isValidOpcode,
  MAGIC_LENGTH,
  messageIndexEntryCount,
  parseChunkHeader,
  parseChunkRecords,
  readLength,
  recordName,
  RECORD_PREFIX_LENGTH,
  sortByLogTime,
  viewOf,
  type ChunkHeader,
} from './mcap-records.ts';
import { SortedRuns } from './sorted-runs.ts';
import type { RawMessage, ReadLoss } from './recording-reader.ts';

/** Bytes searched per read when looking for the next record after a corrupt one. */
const SCAN_STEP = 1024 * 1024;
/** Bytes read past each scan step, more than the 81 bytes of a chunk header with a 32-byte compression name. */
const SCAN_OVERLAP = 128;
const MESSAGE_FIXED_LENGTH = 22;

export interface StreamReadContext {
  file: McapFile;
  registry: McapChannelRegistry;
  losses: ReadLoss[];
  /**
   * True when the file ends with the MCAP magic. A record that runs past the end of such a file is
   * corrupt, so the walk searches for the next record. Without the magic, the file was cut there.
   */
  endsWithMagic: boolean;
  /** Reason the summary could not be used, or null when the file has none or it was valid. */
  summaryProblem: string | null;
}

/**
 * Yields the messages of an MCAP file by walking its records from the start, for files without
 * a usable summary. Each chunk's messages are sorted and merged with the chunks they overlap.
 * A truncated file yields every complete message before the cut and those in the decodable
 * start of a cut chunk, and adds one loss that states where the file ends.
 */
export function readStreamMessages(context: StreamReadContext): AsyncGenerator<RawMessage> {
  return new StreamWalk(context).run();
}

/**
 * Reads the Schema and Channel records that precede the first message, including those inside
 * the first chunk, so that channels are known before messages are read. Stops quietly at anything
 * unreadable; the walk in `readStreamMessages` reports it.
 */
export async function readLeadingDefinitions(file: McapFile, registry: McapChannelRegistry): Promise<void> {
  let offset = MAGIC_LENGTH;
  for (;;) {
    const prefix = await file.bytesAt(offset, RECORD_PREFIX_LENGTH);
    if (prefix.length < RECORD_PREFIX_LENGTH) return;
    const opcode = prefix[0]!;
    const contentLength = readLength(viewOf(prefix), 1);
    const recordEnd = offset + RECORD_PREFIX_LENGTH + contentLength;
    if (!isValidOpcode(opcode) || recordEnd > file.size) return;

    if (opcode === Opcode.SCHEMA || opcode === Opcode.CHANNEL) {
      addDefinitionRecord(opcode, await file.bytesAt(offset + RECORD_PREFIX_LENGTH, contentLength), registry);
    } else if (opcode === Opcode.CHUNK) {
      const record = await file.bytesAt(offset, RECORD_PREFIX_LENGTH + contentLength);
      const header = parseChunkHeader(record, contentLength);
      if (header !== undefined) await decodeChunk(record, header, registry, file.path);
      return;
    } else if (opcode === Opcode.MESSAGE || opcode === Opcode.DATA_END || opcode === Opcode.FOOTER) {
      return;
    }
    offset = recordEnd;
  }
}

class StreamWalk {
  readonly #context: StreamReadContext;
  readonly #file: McapFile;
  readonly #runs = new SortedRuns();
  #recovered = 0;
  #lastLogTime: bigint | null = null;
  #chunkNumber = 0;
  /** The loss of the chunk just skipped; the Message Index records after it give its message count. */
  #lostChunk: { loss: ReadLoss; reason: string } | null = null;

  constructor(context: StreamReadContext) {
    this.#context = context;
    this.#file = context.file;
  }

  async *run(): AsyncGenerator<RawMessage> {
    const file = this.#file;
    let offset = MAGIC_LENGTH;
    for (;;) {
      const prefix = await file.bytesAt(offset, RECORD_PREFIX_LENGTH);
      if (prefix.length < RECORD_PREFIX_LENGTH) {
        for (const message of this.#runs.drain(null)) yield message;
        this.#addCutLoss(offset, offset === file.size ? 'boundary' : 'prefix', null);
        return;
      }
      const opcode = prefix[0]!;
      const contentLength = readLength(viewOf(prefix), 1);
      const recordEnd = offset + RECORD_PREFIX_LENGTH + contentLength;

      if (!isValidOpcode(opcode) || (recordEnd > file.size && this.#context.endsWithMagic)) {
        const next = await this.#findNextRecord(offset + 1);
        this.#addCorruptRecordLoss(offset, opcode, contentLength, next);
        if (next === null) break;
        offset = next;
        continue;
      }
      if (recordEnd > file.size) {
        if (opcode === Opcode.CHUNK) {
          for await (const message of this.#salvageCutChunk(offset, contentLength)) yield message;
        } else {
          for (const message of this.#runs.drain(null)) yield message;
          this.#addCutLoss(offset, 'record', null, recordName(opcode));
        }
        return;
      }
      if (opcode === Opcode.DATA_END || opcode === Opcode.FOOTER) {
        this.#addSummaryLoss(offset, recordEnd);
        break;
      }

      if (opcode !== Opcode.MESSAGE_INDEX) this.#lostChunk = null;
      if (opcode === Opcode.CHUNK) {
        const messages = await this.#readChunk(offset, contentLength);
        const first = messages[0];
        if (first !== undefined) {
          for (const message of this.#runs.drain(first.logTime)) yield message;
          this.#runs.add(messages);
        }
      } else if (opcode === Opcode.MESSAGE) {
        const message = await this.#readLooseMessage(offset, contentLength);
        if (message !== undefined) {
          // NOTE: messages outside chunks are yielded in file order and sorted only against chunk
          // messages. A file whose loose messages are out of order yields them out of order.
          for (const earlier of this.#runs.drain(message.logTime, true)) yield earlier;
          yield message;
        }
      } else if (opcode === Opcode.SCHEMA || opcode === Opcode.CHANNEL) {
        addDefinitionRecord(opcode, await file.bytesAt(offset + RECORD_PREFIX_LENGTH, contentLength), this.#context.registry);
      } else if (opcode === Opcode.MESSAGE_INDEX && this.#lostChunk !== null) {
        const count = messageIndexEntryCount(await file.bytesAt(offset, RECORD_PREFIX_LENGTH + contentLength));
        const { loss, reason } = this.#lostChunk;
        loss.messages = (loss.messages ?? 0) + count;
        loss.reason = `${reason} Its message index lists ${formatCount(loss.messages)} messages.`;
      }
      offset = recordEnd;
    }
    for (const message of this.#runs.drain(null)) yield message;
  }

  #noteRecovered(messages: readonly RawMessage[]): void {
    this.#recovered += messages.length;
    for (const message of messages) {
      if (this.#lastLogTime === null || message.logTime > this.#lastLogTime) this.#lastLogTime = message.logTime;
    }
  }

  async #readChunk(offset: number, contentLength: number): Promise<RawMessage[]> {
    this.#chunkNumber++;
    const { registry, losses } = this.#context;
    const length = RECORD_PREFIX_LENGTH + contentLength;
    const record = await this.#file.bytesAt(offset, length);
    const header = parseChunkHeader(record, contentLength);
    const decoded = header === undefined ? undefined : await decodeChunk(record, header, registry, this.#file.path);
    if (decoded?.ok === true) {
      registry.addOrphans(decoded.records.orphans);
      this.#noteRecovered(decoded.messages);
      return decoded.messages;
    }
    const problem = decoded === undefined ? 'its header fields are invalid' : decoded.problem;
    const times =
      header === undefined
        ? ''
        : `, log times ${formatLogTime(header.messageStartTime)} to ${formatLogTime(header.messageEndTime)}`;
    const reason =
      `Chunk ${this.#chunkNumber} at byte ${formatBytes(offset)} (${formatBytes(length)} bytes${times}) ` +
      `was skipped because ${problem}.`;
    const loss: ReadLoss = {
      file: this.#file.path,
      bytes: length,
      messages: null,
      startTime: header?.messageStartTime ?? null,
      endTime: header?.messageEndTime ?? null,
      reason: `${reason} No message index follows it, so the number of lost messages is unknown.`,
    };
    losses.push(loss);
    this.#lostChunk = { loss, reason };
    return [];
  }

  async #readLooseMessage(offset: number, contentLength: number): Promise<RawMessage | undefined> {
    if (contentLength < MESSAGE_FIXED_LENGTH) return undefined;
    const record = await this.#file.bytesAt(offset, RECORD_PREFIX_LENGTH + contentLength);
    const parsed = parseChunkRecords(record, this.#context.registry, this.#file.path);
    this.#context.registry.addOrphans(parsed.orphans);
    this.#noteRecovered(parsed.messages);
    return parsed.messages[0];
  }

  /** Yields the complete messages in the decodable start of a chunk that the end of the file cuts. */
  async *#salvageCutChunk(offset: number, contentLength: number): AsyncGenerator<RawMessage> {
    this.#chunkNumber++;
    const file = this.#file;
    const record = await file.bytesAt(offset, file.size - offset);
    const header = parseChunkHeader(record, contentLength);
    if (header === undefined) {
      for (const message of this.#runs.drain(null)) yield message;
      this.#addCutLoss(offset, 'chunk', null);
      return;
    }
    const stored = record.subarray(header.recordsOffset, header.recordsOffset + header.recordsLength);
    const prefix = decodeChunkPrefix(header.compression, stored, header.uncompressedSize);
    let lostFrom = offset;
    let salvaged: RawMessage[] = [];
    let sorted = true;
    if (prefix !== undefined) {
      const parsed = parseChunkRecords(prefix.data, this.#context.registry, file.path);
      this.#context.registry.addOrphans(parsed.orphans);
      salvaged = parsed.messages;
      sorted = parsed.sorted;
      if (!sorted) sortByLogTime(salvaged);
      if (parsed.end > 0) lostFrom = offset + header.recordsOffset + inputLengthFor(prefix, parsed.end);
    }
    this.#noteRecovered(salvaged);
    const first = salvaged[0];
    if (first !== undefined) {
      for (const message of this.#runs.drain(first.logTime)) yield message;
      this.#runs.add(salvaged);
    }
    for (const message of this.#runs.drain(null)) yield message;
    this.#addCutLoss(lostFrom, 'chunk', { header, start: offset, contentLength, salvaged, sorted, decodable: prefix !== undefined });
  }

  /**
   * Records the loss for a file that ends before its Data End record. `kind` is where the end
   * falls: on a record boundary, inside a record prefix, inside a non-chunk record, or in a chunk.
   */
  #addCutLoss(
    lostFrom: number,
    kind: 'boundary' | 'prefix' | 'record' | 'chunk',
    cutChunk: CutChunk | null,
    name = 'Chunk',
  ): void {
    const size = this.#file.size;
    const recovered = this.#recovered;
    const upTo = this.#lastLogTime === null ? '' : ` up to log time ${formatLogTime(this.#lastLogTime)}`;
    const recoveredText = `Recovered ${formatCount(recovered)} messages${upTo}`;
    let startTime = this.#lastLogTime;
    let endTime: bigint | null = null;
    let reason: string;

    if (kind === 'boundary') {
      reason =
        `File ends at byte ${formatBytes(size)} after ${size === MAGIC_LENGTH ? 'the magic' : 'a complete record'}, ` +
        'with no Data End record, footer or summary. ' +
        `${recoveredText}; anything recorded after byte ${formatBytes(size)} is lost.`;
    } else if (kind === 'prefix' || kind === 'record') {
      const where =
        kind === 'prefix'
          ? `inside the 9-byte prefix of a record at byte ${formatBytes(lostFrom)}`
          : `inside a ${name} record that starts at byte ${formatBytes(lostFrom)}`;
      reason =
        `File ends at byte ${formatBytes(size)} ${where}, with no footer or summary. ${recoveredText}; ` +
        `bytes ${formatBytes(lostFrom)} to ${formatBytes(size)} and anything recorded after them are lost.`;
    } else if (cutChunk === null) {
      reason =
        `File ends at byte ${formatBytes(size)} inside the header of chunk ${this.#chunkNumber} at byte ` +
        `${formatBytes(lostFrom)}, with no footer or summary. ${recoveredText}; bytes ${formatBytes(lostFrom)} ` +
        `to ${formatBytes(size)} and anything recorded after them are lost.`;
    } else {
      const { header, salvaged } = cutChunk;
      endTime = header.messageEndTime;
      const lastSalvaged = salvaged.at(-1);
      startTime = lastSalvaged !== undefined && cutChunk.sorted ? lastSalvaged.logTime : header.messageStartTime;
      const declaredEnd = cutChunk.start + RECORD_PREFIX_LENGTH + cutChunk.contentLength;
      reason =
        `File ends at byte ${formatBytes(size)} inside chunk ${this.#chunkNumber} (which starts at byte ` +
        `${formatBytes(cutChunk.start)} and declares ${formatBytes(declaredEnd - cutChunk.start)} bytes), ` +
        `with no footer or summary. ${recoveredText}, ${salvageText(header, salvaged.length, cutChunk.decodable)}. ` +
        `Bytes ${formatBytes(lostFrom)} to ${formatBytes(size)} (the rest of the cut chunk, which holds log times ` +
        `up to ${formatLogTime(header.messageEndTime)}) and anything recorded after it are lost.`;
    }
    this.#context.losses.push({
      file: this.#file.path,
      bytes: size - lostFrom,
      messages: null,
      startTime,
      endTime,
      reason,
    });
  }

  #addSummaryLoss(dataEndOffset: number, recordEnd: number): void {
    const { summaryProblem, endsWithMagic } = this.#context;
    const size = this.#file.size;
    const allRead = `the data section is complete and all ${formatCount(this.#recovered)} messages in it were read`;
    let reason: string;
    if (summaryProblem !== null) {
      reason =
        `The summary after byte ${formatBytes(recordEnd)} is invalid (${summaryProblem}), so the file was read ` +
        `record by record; ${allRead}.`;
    } else if (!endsWithMagic) {
      reason =
        `File ends at byte ${formatBytes(size)} after the Data End record at byte ${formatBytes(dataEndOffset)}, ` +
        `without a complete summary or footer; ${allRead}.`;
    } else {
      return;
    }
    this.#context.losses.push({
      file: this.#file.path,
      bytes: size - recordEnd,
      messages: 0,
      startTime: null,
      endTime: null,
      reason,
    });
  }

  #addCorruptRecordLoss(offset: number, opcode: number, contentLength: number, next: number | null): void {
    const size = this.#file.size;
    const end = next ?? size;
    const upTo = this.#lastLogTime === null ? '' : ` up to log time ${formatLogTime(this.#lastLogTime)}`;
    const resumed =
      next === null
        ? `No later record start was found, so bytes ${formatBytes(offset)} to ${formatBytes(size)} are lost.`
        : `Reading resumed at the next record found, at byte ${formatBytes(next)}; the ` +
          `${formatBytes(next - offset)} bytes between are lost.`;
    this.#context.losses.push({
      file: this.#file.path,
      bytes: end - offset,
      messages: null,
      startTime: this.#lastLogTime,
      endTime: null,
      reason:
        `Invalid record at byte ${formatBytes(offset)} (${recordName(opcode)}, content length ` +
        `${formatBytes(contentLength)}, file size ${formatBytes(size)}) after ${formatCount(this.#recovered)} ` +
        `messages${upTo}. ${resumed}`,
    });
  }

  /** Searches from `from` for the start of a Chunk, Data End or Footer record. */
  async #findNextRecord(from: number): Promise<number | null> {
    const size = this.#file.size;
    for (let start = from; start < size; start += SCAN_STEP) {
      const bytes = await this.#file.read(start, SCAN_STEP + SCAN_OVERLAP);
      const limit = Math.min(SCAN_STEP, bytes.length);
      for (let index = 0; index < limit; index++) {
        const opcode = bytes[index];
        if (opcode !== Opcode.CHUNK && opcode !== Opcode.DATA_END && opcode !== Opcode.FOOTER) continue;
        if (isRecordStart(bytes.subarray(index), start + index, size)) return start + index;
      }
    }
    return null;
  }
}

interface CutChunk {
  header: ChunkHeader;
  start: number;
  contentLength: number;
  salvaged: readonly RawMessage[];
  sorted: boolean;
  decodable: boolean;
}

function salvageText(header: ChunkHeader, salvagedCount: number, decodable: boolean): string {
  if (!decodable) return `none of them from the cut chunk, because ${header.compression} data cannot be decoded in part`;
  const source = header.compression === '' ? 'complete records' : `complete ${header.compression} blocks`;
  return `${formatCount(salvagedCount)} of them from the ${source} of the cut chunk, whose CRC cannot be checked`;
}

/**
 * True when `bytes`, found at `position` of a file of `size` bytes, start a plausible Chunk record
 * (lengths that agree with each other and fit the file), a Data End record, or the Footer record.
 */
function isRecordStart(bytes: Uint8Array, position: number, size: number): boolean {
  if (bytes.length < RECORD_PREFIX_LENGTH) return false;
  const contentLength = readLength(viewOf(bytes), 1);
  const recordEnd = position + RECORD_PREFIX_LENGTH + contentLength;
  switch (bytes[0]) {
    case Opcode.CHUNK: {
      if (recordEnd > size) return false;
      const header = parseChunkHeader(bytes, contentLength);
      return header !== undefined && header.recordsOffset + header.recordsLength === RECORD_PREFIX_LENGTH + contentLength;
    }
    case Opcode.DATA_END:
      return contentLength === 4 && recordEnd <= size;
    case Opcode.FOOTER:
      return contentLength === 20 && recordEnd + MAGIC_LENGTH === size;
    default:
      return false;
  }
}
