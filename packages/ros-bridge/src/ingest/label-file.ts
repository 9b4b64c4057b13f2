import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { detectKind } from '../recording/detect-format.ts';

/** One row of an image folder's label file: the image path relative to the folder and its columns. */
export interface LabelRow {
  path: string;
  columns: Record<string, string>;
  /** 1-based line in the label file, for messages. */
  line: number;
}

/** Raised for a label file that cannot be parsed; names the file, the line and the fix. */
export class LabelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelFileError';
  }
}

const CANDIDATES = ['data.txt', 'labels.txt', 'labels.csv'];

/** Finds the label file of a folder: data.txt, labels.txt, labels.csv, or the only .csv file. */
export async function findLabelFile(folder: string): Promise<string> {
  const names = await readdir(folder);
  for (const candidate of CANDIDATES) if (names.includes(candidate)) return join(folder, candidate);
  const csv = names.filter((name) => name.toLowerCase().endsWith('.csv'));
  if (csv.length === 1) return join(folder, csv[0] as string);
  if (csv.length === 0) {
    // A folder of recordings that is not a rosbag2 bag directory also lands here, so the error names them.
    const recordings: string[] = [];
    for (const name of [...names].sort()) {
      const kind = await detectKind(join(folder, name)).catch(() => 'unknown');
      if (kind === 'mcap' || kind === 'rosbag2-sqlite3' || kind === 'ros1-bag') recordings.push(join(folder, name));
    }
    if (recordings.length > 0) {
      throw new LabelFileError(
        `${folder} contains recordings (${recordings.join(', ')}) but is neither a rosbag2 bag directory (metadata.yaml, or ` +
          'storage files named <bag name>_<N>.mcap or .db3) nor an image folder with a label file; pass the recording files themselves',
      );
    }
  }
  throw new LabelFileError(
    `${folder} has ${csv.length === 0 ? 'no label file' : `several CSV files (${csv.join(', ')})`}; ` +
      'name the label file with folder.labels in the mapping (data.txt with `name value` lines, or a CSV with a path column)',
  );
}

/** Splits CSV text into rows of fields, following RFC 4180 quoting. */
export function parseCsv(text: string, file: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else {
        if (char === '\n') line += 1;
        field += char;
      }
      continue;
    }
    if (char === '"' && field === '') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      if (row.length > 1 || row[0] !== '') rows.push(row);
      row = [];
      field = '';
      line += 1;
    } else field += char;
  }
  if (quoted) throw new LabelFileError(`${file}: a quoted field opened before line ${line} never closes; add the closing quote`);
  row.push(field);
  if (row.length > 1 || row[0] !== '') rows.push(row);
  return rows;
}

function looksLikeCsv(file: string, text: string): boolean {
  if (file.toLowerCase().endsWith('.csv')) return true;
  const first = text.split('\n', 1)[0] ?? '';
  return first.includes(',');
}

/**
 * Reads a label file: `name value` lines (values in column `value`, `#` comments allowed) or a CSV
 * with a header row, whose `pathColumn` (default: a column named path, file, filename or image)
 * holds the image path.
 */
export async function readLabelFile(file: string, pathColumn: string | null): Promise<LabelRow[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(
      `the label file ${file} cannot be read: ${(error as Error).message}. Name an existing file of the image folder with folder.labels in the mapping.`,
      { cause: error },
    );
  }
  if (!looksLikeCsv(file, text)) {
    const rows: LabelRow[] = [];
    text.split(/\r?\n/).forEach((raw, index) => {
      const lineText = raw.trim();
      if (lineText === '' || lineText.startsWith('#')) return;
      const parts = lineText.split(/\s+/);
      if (parts.length !== 2) {
        throw new LabelFileError(
          `${file} line ${index + 1}: expected \`name value\` but found ${parts.length} fields in ${JSON.stringify(lineText)}`,
        );
      }
      rows.push({ path: parts[0] as string, columns: { value: parts[1] as string }, line: index + 1 });
    });
    return rows;
  }
  const rows = parseCsv(text, file);
  const header = rows.shift();
  if (!header) throw new LabelFileError(`${file} is empty; it needs a header row and one row per image`);
  const names = header.map((name) => name.trim());
  const column = pathColumn ?? names.find((name) => ['path', 'file', 'filename', 'image'].includes(name.toLowerCase()));
  if (!column || !names.includes(column)) {
    throw new LabelFileError(
      `${file} has no ${pathColumn ? `column ${JSON.stringify(pathColumn)}` : 'path column'} (columns: ${names.join(', ')}); ` +
        'set folder.path_column in the mapping',
    );
  }
  return rows.map((fields, index) => {
    if (fields.length !== names.length) {
      throw new LabelFileError(`${file} row ${index + 2} has ${fields.length} fields but the header has ${names.length}`);
    }
    const columns: Record<string, string> = {};
    names.forEach((name, i) => {
      columns[name] = fields[i] as string;
    });
    return { path: columns[column] as string, columns, line: index + 2 };
  });
}

/** The label file's name, for lineage. */
export function labelFileTopic(file: string): string {
  return basename(file);
}
