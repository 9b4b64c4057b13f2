import { readFileSync } from 'node:fs';
import { findNextRecord, readRecord, type DecodedRecord } from './queue-record.ts';

/** Bytes of a segment that failed their checks and were skipped. */
export interface CorruptRange {
  offset: number;
  bytes: number;
}

export interface SegmentScan {
  records: DecodedRecord[];
  /** Invalid bytes followed by a valid record. */
  corrupt: CorruptRange[];
  /** Start of invalid bytes that no valid record follows (a torn tail after a crash), or null. */
  tailOffset: number | null;
  size: number;
}

/**
 * Reads every record of a segment file and checks its CRC-32. After invalid bytes the scan
 * resumes at the next record that passes its checks.
 */
export function scanSegment(path: string): SegmentScan {
  const source = readFileSync(path);
  const records: DecodedRecord[] = [];
  const corrupt: CorruptRange[] = [];
  let offset = 0;
  while (offset < source.length) {
    const record = readRecord(source, offset);
    if (record !== null) {
      records.push(record);
      offset = record.payloadOffset + record.payloadLength;
      continue;
    }
    const next = findNextRecord(source, offset + 1);
    if (next === null) return { records, corrupt, tailOffset: offset, size: source.length };
    corrupt.push({ offset, bytes: next - offset });
    offset = next;
  }
  return { records, corrupt, tailOffset: null, size: source.length };
}
