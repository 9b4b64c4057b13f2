import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { LabelValue } from '@fieldloop/contracts';
import { parseFieldPath } from './field-path.ts';
import type { LabelTransform } from './label-transform.ts';
import type { FolderSpec, ImageSpec, LabelSpec, Mapping, SplitSpec, TagSpec } from './mapping.ts';

/** Raised for an invalid mapping file; the message names the file, the key and the fix. */
export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

type Json = Record<string, unknown>;

const DEFAULT_TOLERANCE_MS = 50;
const DEFAULT_SIZE = { width: 128, height: 128 };

class Reader {
  constructor(readonly source: string) {}

  fail(key: string, problem: string): never {
    throw new MappingError(`mapping ${this.source}: ${key} ${problem}`);
  }

  object(value: unknown, key: string): Json {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(key, `must be a mapping of keys to values, got ${JSON.stringify(value)}`);
    }
    return value as Json;
  }

  string(value: unknown, key: string): string {
    if (typeof value !== 'string' || value === '') this.fail(key, `must be a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  }

  number(value: unknown, key: string, check?: (n: number) => boolean, rule?: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || (check && !check(value))) {
      this.fail(key, `must be ${rule ?? 'a finite number'}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, key: string, options: readonly T[]): T {
    if (typeof value !== 'string' || !options.includes(value as T)) {
      this.fail(key, `must be one of ${options.join(', ')}, got ${JSON.stringify(value)}`);
    }
    return value as T;
  }

  onlyKeys(object: Json, key: string, allowed: readonly string[]): void {
    for (const name of Object.keys(object)) {
      if (!allowed.includes(name)) this.fail(`${key}.${name}`, `is not a known key (known: ${allowed.join(', ')})`);
    }
  }

  fieldPath(value: unknown, key: string): { field: string; path: ReturnType<typeof parseFieldPath> } {
    const field = this.string(value, key);
    try {
      return { field, path: parseFieldPath(field) };
    } catch (error) {
      this.fail(key, (error as Error).message);
    }
  }

  labelValue(value: unknown, key: string): LabelValue {
    if (typeof value === 'string' || typeof value === 'boolean') return value;
    return this.number(value, key);
  }

  transforms(value: unknown, key: string): LabelTransform[] {
    if (value === undefined || value === null) return [];
    const steps = Array.isArray(value) ? value : [value];
    return steps.map((step, index) => this.transform(step, `${key}[${index}]`));
  }

  transform(step: unknown, key: string): LabelTransform {
    if (step === 'round') return { kind: 'round' };
    const object = this.object(step, key);
    const names = Object.keys(object);
    if (names.length !== 1) {
      this.fail(key, 'must have exactly one of linear, clamp, round, threshold, map, regex, classes');
    }
    const name = names[0] as string;
    const body = object[name];
    const at = `${key}.${name}`;
    switch (name) {
      case 'linear': {
        const args = this.object(body, at);
        this.onlyKeys(args, at, ['scale', 'offset']);
        return {
          kind: 'linear',
          scale: args.scale === undefined ? 1 : this.number(args.scale, `${at}.scale`),
          offset: args.offset === undefined ? 0 : this.number(args.offset, `${at}.offset`),
        };
      }
      case 'clamp': {
        const args = this.object(body, at);
        this.onlyKeys(args, at, ['min', 'max']);
        const min = this.number(args.min, `${at}.min`);
        const max = this.number(args.max, `${at}.max`, (n) => n >= min, `a number no less than min (${min})`);
        return { kind: 'clamp', min, max };
      }
      case 'round':
        return { kind: 'round' };
      case 'threshold': {
        const args = this.object(body, at);
        this.onlyKeys(args, at, ['above']);
        return { kind: 'threshold', above: this.number(args.above, `${at}.above`) };
      }
      case 'map': {
        const args = this.object(body, at);
        this.onlyKeys(args, at, ['values', 'default']);
        const values: Record<string, LabelValue> = {};
        for (const [from, to] of Object.entries(this.object(args.values, `${at}.values`))) {
          values[from] = this.labelValue(to, `${at}.values.${from}`);
        }
        const fallback = args.default === undefined ? null : this.labelValue(args.default, `${at}.default`);
        return { kind: 'map', values, fallback };
      }
      case 'regex': {
        const args = typeof body === 'string' ? { pattern: body } : this.object(body, at);
        this.onlyKeys(args, at, ['pattern', 'group']);
        const source = this.string(args.pattern, `${at}.pattern`);
        let pattern: RegExp;
        try {
          pattern = new RegExp(source);
        } catch (error) {
          this.fail(`${at}.pattern`, `is not a valid regular expression: ${(error as Error).message}`);
        }
        // Without an explicit group, the first capturing group is the label, or the whole match
        // when the pattern has none.
        const hasCapture = /\((?!\?)/.test(source);
        const group = args.group ?? (hasCapture ? 1 : 0);
        return {
          kind: 'regex',
          pattern,
          group: this.number(group, `${at}.group`, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer'),
        };
      }
      case 'classes': {
        if (!Array.isArray(body) || body.length === 0) this.fail(at, 'must be a non-empty list of class names');
        return { kind: 'classes', names: body.map((item, i) => this.string(item, `${at}[${i}]`)) };
      }
      default:
        this.fail(key, `has unknown transform ${JSON.stringify(name)} (known: linear, clamp, round, threshold, map, regex, classes)`);
    }
  }
}

function readImage(reader: Reader, value: unknown, isFolder: boolean): ImageSpec {
  const image = reader.object(value ?? {}, 'image');
  reader.onlyKeys(image, 'image', ['topic', 'width', 'height', 'fit']);
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0 && n <= 4096;
  const rule = 'an integer from 1 to 4096 (pixels)';
  const topic = isFolder ? null : reader.string(image.topic, 'image.topic');
  if (isFolder && image.topic !== undefined) reader.fail('image.topic', 'is only for recordings; remove it for an image folder');
  return {
    topic,
    width: reader.number(image.width ?? DEFAULT_SIZE.width, 'image.width', positiveInt, rule),
    height: reader.number(image.height ?? DEFAULT_SIZE.height, 'image.height', positiveInt, rule),
    fit: reader.oneOf(image.fit ?? 'fill', 'image.fit', ['fill', 'cover', 'contain'] as const),
  };
}

function readLabels(reader: Reader, value: unknown, isFolder: boolean, defaultToleranceMs: number): LabelSpec[] {
  const labels = reader.object(value ?? {}, 'labels');
  return Object.entries(labels).map(([head, raw]) => {
    const key = `labels.${head}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(head)) reader.fail(key, 'head names start with a letter and use letters, digits, _ or -');
    const spec = reader.object(raw, key);
    reader.onlyKeys(spec, key, isFolder ? ['column', 'transform'] : ['topic', 'field', 'transform', 'tolerance_ms']);
    const { field, path } = reader.fieldPath(isFolder ? spec.column : spec.field, isFolder ? `${key}.column` : `${key}.field`);
    const toleranceMs = spec.tolerance_ms === undefined
      ? defaultToleranceMs
      : reader.number(spec.tolerance_ms, `${key}.tolerance_ms`, (n) => n >= 0, 'a non-negative number (milliseconds)');
    return {
      head,
      topic: isFolder ? null : reader.string(spec.topic, `${key}.topic`),
      field,
      path,
      transforms: reader.transforms(spec.transform, `${key}.transform`),
      toleranceNs: BigInt(Math.round(toleranceMs * 1e6)),
    };
  });
}

function readTags(reader: Reader, value: unknown, isFolder: boolean): TagSpec[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) reader.fail('tags', 'must be a list of words or {topic, field} entries');
  return value.map((item, index): TagSpec => {
    const key = `tags[${index}]`;
    if (typeof item === 'string') return { kind: 'static', value: reader.string(item, key) };
    const spec = reader.object(item, key);
    if (isFolder) reader.fail(key, 'must be a word for an image folder, which has no topics');
    reader.onlyKeys(spec, key, ['topic', 'field', 'transform']);
    const { field, path } = reader.fieldPath(spec.field, `${key}.field`);
    return {
      kind: 'topic',
      topic: reader.string(spec.topic, `${key}.topic`),
      field,
      path,
      transforms: reader.transforms(spec.transform, `${key}.transform`),
    };
  });
}

function readSplit(reader: Reader, value: unknown, isFolder: boolean): SplitSpec {
  if (value === undefined || value === null) return isFolder ? { by: 'file' } : { by: 'recording' };
  const split = reader.object(value, 'split');
  reader.onlyKeys(split, 'split', ['by', 'seconds', 'column']);
  const by = reader.oneOf(split.by, 'split.by', isFolder ? (['file', 'folder', 'column'] as const) : (['recording', 'segment'] as const));
  if (by === 'segment') {
    return { by, seconds: reader.number(split.seconds, 'split.seconds', (n) => n > 0, 'a positive number of seconds') };
  }
  if (by === 'column') return { by, column: reader.string(split.column, 'split.column') };
  if (by === 'folder') return { by: 'recording' };
  return { by };
}

function readFolder(reader: Reader, value: unknown): FolderSpec {
  const folder = reader.object(value ?? {}, 'folder');
  reader.onlyKeys(folder, 'folder', ['labels', 'path_column']);
  return {
    labelFile: folder.labels === undefined ? null : reader.string(folder.labels, 'folder.labels'),
    pathColumn: folder.path_column === undefined ? null : reader.string(folder.path_column, 'folder.path_column'),
  };
}

/**
 * Validates a parsed mapping document. A document with a `folder` key maps an image folder;
 * one without maps recordings. `source` names the file in error messages.
 */
export function parseMapping(document: unknown, source: string): Mapping {
  const reader = new Reader(source);
  const root = reader.object(document, '(top level)');
  reader.onlyKeys(root, '(top level)', ['image', 'labels', 'tags', 'time', 'split', 'tolerance_ms', 'require_all_labels', 'folder']);
  const isFolder = root.folder !== undefined;
  const toleranceMs = root.tolerance_ms === undefined
    ? DEFAULT_TOLERANCE_MS
    : reader.number(root.tolerance_ms, 'tolerance_ms', (n) => n >= 0, 'a non-negative number (milliseconds)');
  const labels = readLabels(reader, root.labels, isFolder, toleranceMs);
  if (labels.length === 0) reader.fail('labels', 'must name at least one head, for example labels: { steering: { topic: /servo, field: data } }');
  const requireAll = root.require_all_labels ?? false;
  if (typeof requireAll !== 'boolean') return reader.fail('require_all_labels', 'must be true or false');
  return {
    source,
    image: readImage(reader, root.image, isFolder),
    labels,
    tags: readTags(reader, root.tags, isFolder),
    time: reader.oneOf(root.time ?? 'log', 'time', ['log', 'header'] as const),
    split: readSplit(reader, root.split, isFolder),
    requireAllLabels: requireAll,
    folder: isFolder ? readFolder(reader, root.folder) : null,
  };
}

/** Reads and validates a mapping file written in YAML or JSON. */
export async function loadMapping(file: string): Promise<Mapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fix = code === 'EISDIR' ? 'it is a directory: pass a mapping file in it' : 'check the path; configs/mappings/ of the repository has examples';
    throw new MappingError(`mapping ${file} cannot be read: ${(error as Error).message}; ${fix}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new MappingError(`mapping ${file} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  return parseMapping(document, file);
}
