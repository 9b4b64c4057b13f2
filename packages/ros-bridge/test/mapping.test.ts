import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFieldPath, readField } from '../src/mapping/field-path.ts';
import { applyTransforms } from '../src/mapping/label-transform.ts';
import { loadMapping, MappingError, parseMapping } from '../src/mapping/load-mapping.ts';

const RECORDING_MAPPING = {
  image: { topic: '/camera', width: 64, height: 48, fit: 'cover' },
  labels: {
    steering: { topic: '/servo', field: 'data', tolerance_ms: 35, transform: [{ linear: { scale: 0.5, offset: -45 } }, { clamp: { min: -20, max: 20 } }] },
    sign: { topic: '/sign', field: 'class_id', transform: { classes: ['stop', 'yield'] } },
  },
  tags: ['night', { topic: '/status', field: 'data', transform: { regex: '^run:(.*)$' } }],
  split: { by: 'segment', seconds: 2 },
};

describe('parseMapping', () => {
  it('reads a recording mapping', () => {
    const mapping = parseMapping(RECORDING_MAPPING, 'm.yaml');
    expect(mapping.image).toEqual({ topic: '/camera', width: 64, height: 48, fit: 'cover' });
    expect(mapping.labels.map((l) => l.head)).toEqual(['steering', 'sign']);
    expect(mapping.labels[0]?.toleranceNs).toBe(35_000_000n);
    expect(mapping.labels[1]?.toleranceNs).toBe(50_000_000n);
    expect(mapping.tags[0]).toEqual({ kind: 'static', value: 'night' });
    expect(mapping.tags[1]?.kind).toBe('topic');
    expect(mapping.split).toEqual({ by: 'segment', seconds: 2 });
    expect(mapping.folder).toBeNull();
    expect(mapping.time).toBe('log');
  });

  it('reads a folder mapping', () => {
    const mapping = parseMapping(
      { folder: { labels: 'Test.csv', path_column: 'Path' }, image: { width: 32, height: 32 }, labels: { sign: { column: 'ClassId' } } },
      'f.yaml',
    );
    expect(mapping.folder).toEqual({ labelFile: 'Test.csv', pathColumn: 'Path' });
    expect(mapping.image.topic).toBeNull();
    expect(mapping.labels[0]?.field).toBe('ClassId');
    expect(mapping.split).toEqual({ by: 'file' });
  });

  const invalid: Array<[string, unknown, RegExp]> = [
    ['no labels', { image: { topic: '/c' } }, /labels must name at least one head/],
    ['missing image topic', { labels: { a: { topic: '/a', field: 'data' } } }, /image.topic must be a non-empty string/],
    ['unknown key', { image: { topic: '/c' }, labels: { a: { topic: '/a', field: 'data' } }, extra: 1 }, /extra is not a known key/],
    ['bad width', { image: { topic: '/c', width: 0 }, labels: { a: { topic: '/a', field: 'data' } } }, /image.width must be an integer from 1 to 4096/],
    ['bad field path', { image: { topic: '/c' }, labels: { a: { topic: '/a', field: 'x..y' } } }, /labels.a.field invalid field path/],
    ['bad transform', { image: { topic: '/c' }, labels: { a: { topic: '/a', field: 'data', transform: { scale: 2 } } } }, /unknown transform "scale"/],
    ['bad regex', { image: { topic: '/c' }, labels: { a: { topic: '/a', field: 'data', transform: { regex: '(' } } } }, /not a valid regular expression/],
    ['clamp order', { image: { topic: '/c' }, labels: { a: { topic: '/a', field: 'data', transform: { clamp: { min: 2, max: 1 } } } } }, /no less than min/],
    ['negative tolerance', { image: { topic: '/c' }, labels: { a: { topic: '/a', field: 'data', tolerance_ms: -1 } } }, /tolerance_ms must be a non-negative number \(milliseconds\)/],
    ['split by file for a recording', { image: { topic: '/c' }, labels: { a: { topic: '/a', field: 'data' } }, split: { by: 'file' } }, /split.by must be one of recording, segment/],
    ['topic tag in a folder', { folder: {}, labels: { a: { column: 'c' } }, tags: [{ topic: '/t', field: 'data' }] }, /must be a word for an image folder/],
  ];
  for (const [name, document, pattern] of invalid) {
    it(`rejects ${name}`, () => {
      expect(() => parseMapping(document, 'bad.yaml')).toThrow(MappingError);
      expect(() => parseMapping(document, 'bad.yaml')).toThrow(pattern);
      expect(() => parseMapping(document, 'bad.yaml')).toThrow(/^mapping bad\.yaml: /);
    });
  }

  it('loads YAML from a file and names a missing one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-mapping-'));
    const file = join(dir, 'mapping.yaml');
    await writeFile(file, 'image:\n  topic: /cam\nlabels:\n  steer:\n    topic: /servo\n    field: data\n');
    const mapping = await loadMapping(file);
    expect(mapping.labels[0]?.topic).toBe('/servo');
    await expect(loadMapping(join(dir, 'absent.yaml'))).rejects.toThrow(/absent\.yaml cannot be read: .*; check the path/);
    await expect(loadMapping(dir)).rejects.toThrow(/cannot be read: .*; it is a directory: pass a mapping file in it/);
    await writeFile(file, 'image: [unclosed');
    await expect(loadMapping(file)).rejects.toThrow(/is not valid YAML or JSON/);
  });
});

describe('label transforms', () => {
  it('applies steps in order', () => {
    const mapping = parseMapping(RECORDING_MAPPING, 'm.yaml');
    const steering = mapping.labels[0]?.transforms ?? [];
    expect(applyTransforms(100, steering)).toBe(5);
    expect(applyTransforms(200, steering)).toBe(20);
    expect(applyTransforms(0, steering)).toBe(-20);
    const sign = mapping.labels[1]?.transforms ?? [];
    expect(applyTransforms(1, sign)).toBe('yield');
    expect(() => applyTransforms(2, sign)).toThrow(/2 is not a valid class index/);
    const tag = mapping.tags[1];
    if (tag?.kind !== 'topic') throw new Error('expected a topic tag');
    expect(applyTransforms('run:night-path', tag.transforms)).toBe('night-path');
    expect(() => applyTransforms('idle', tag.transforms)).toThrow(/does not match "idle"/);
  });

  it('maps, thresholds and rounds', () => {
    const document = {
      image: { topic: '/c' },
      labels: {
        a: { topic: '/a', field: 'data', transform: [{ map: { values: { '1': 'left', '2': 'right' }, default: 'none' } }] },
        b: { topic: '/a', field: 'data', transform: [{ threshold: { above: 0.5 } }] },
        c: { topic: '/a', field: 'data', transform: ['round'] },
      },
    };
    const [a, b, c] = parseMapping(document, 'm.yaml').labels;
    expect(applyTransforms(2, a?.transforms ?? [])).toBe('right');
    expect(applyTransforms(7, a?.transforms ?? [])).toBe('none');
    expect(applyTransforms(0.7, b?.transforms ?? [])).toBe(true);
    expect(applyTransforms(0.2, b?.transforms ?? [])).toBe(false);
    expect(applyTransforms(2.6, c?.transforms ?? [])).toBe(3);
  });

  it('rejects non-scalar and non-finite labels', () => {
    expect(() => applyTransforms({ x: 1 }, [])).toThrow(/point the mapping at a scalar field/);
    expect(() => applyTransforms(Number.NaN, [])).toThrow(/not finite/);
    expect(() => applyTransforms('abc', [{ kind: 'round' }])).toThrow(/round needs a number/);
  });
});

describe('field paths', () => {
  it('reads nested fields and indexes', () => {
    const message = { header: { stamp: { sec: 3 } }, position: new Float64Array([1, 2, 3]), names: ['a', 'b'] };
    expect(readField(message, parseFieldPath('header.stamp.sec'))).toBe(3);
    expect(readField(message, parseFieldPath('position[2]'))).toBe(3);
    expect(readField(message, parseFieldPath('names[1]'))).toBe('b');
    expect(readField(message, parseFieldPath('header.missing.deeper'))).toBeUndefined();
  });

  it('rejects malformed paths', () => {
    for (const text of ['', '.a', 'a.', 'a..b', 'a[x]', '1a']) {
      expect(() => parseFieldPath(text), text).toThrow(/invalid field path/);
    }
  });
});
