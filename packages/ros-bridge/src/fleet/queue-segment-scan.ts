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
  /**
   * Start of the bytes after the segment's last record, or null when the file ends there: invalid
   * bytes that no valid record follows (a torn tail after a crash), or an earlier use's records.
   */
  tailOffset: number | null;
  /** True when the tail contains records of the file's earlier use as another segment, which are no sign of a crash. */
  staleTail: boolean;
  size: number;
}

/**
 * Reads every record of a segment file and checks its CRC-32. After invalid bytes the scan
 * resumes at the next record that passes its checks. A reused segment file still contains records
 * of its earlier use after its own. Their ids are below `firstId`, so the scan ends at the first
 * of them, and at invalid bytes that such a record follows.
 */
export function scanSegment(path: string, firstId: number): SegmentScan {
  const source = readFileSync(path);
  const records: DecodedRecord[] = [];
  const corrupt: CorruptRange[] = [];
  const stale = (record: DecodedRecord | null): boolean => record !== null && record.id < firstId;
  let offset = 0;
  while (offset < source.length) {
    const record = readRecord(source, offset);
    if (stale(record)) return { records, corrupt, tailOffset: offset, staleTail: true, size: source.length };
    if (record !== null) {
      records.push(record);
      offset = record.payloadOffset + record.payloadLength;
      continue;
    }
    const next = findNextRecord(source, offset + 1);
    if (next === null) return { records, corrupt, tailOffset: offset, staleTail: false, size: source.length };
    if (stale(readRecord(source, next))) return { records, corrupt, tailOffset: offset, staleTail: true, size: source.length };
    corrupt.push({ offset, bytes: next - offset });
    offset = next;
  }
  return { records, corrupt, tailOffset: null, staleTail: false, size: source.length };
}
