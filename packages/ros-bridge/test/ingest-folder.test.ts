import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { findSharedData } from '@fieldloop/contracts';
import { ingestFolder } from '../src/ingest/ingest-folder.ts';
import { LabelFileError, parseCsv, readLabelFile } from '../src/ingest/label-file.ts';
import { parseMapping } from '../src/mapping/load-mapping.ts';
import { ArraySink } from './support/array-sink.ts';

async function solidPng(value: number): Promise<Buffer> {
  return sharp(new Uint8Array(6 * 4 * 3).fill(value), { raw: { width: 6, height: 4, channels: 3 } }).png().toBuffer();
}

async function makeFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fieldloop-folder-'));
  await writeFile(join(dir, '0.jpg'), await solidPng(10));
  await writeFile(join(dir, '1.jpg'), await solidPng(20));
  await writeFile(join(dir, '2.jpg'), await solidPng(10));
  await writeFile(join(dir, 'broken.jpg'), Buffer.from('definitely not an image'));
  await writeFile(join(dir, 'data.txt'), '0.jpg 90\n1.jpg 58\n# a comment\n2.jpg 90\nbroken.jpg 70\nmissing.jpg 80\n');
  return dir;
}

const NAME_VALUE_MAPPING = {
  folder: {},
  image: { width: 4, height: 4 },
  labels: { steering: { column: 'value', transform: { linear: { offset: -90 } } } },
  tags: ['night'],
};

describe('readLabelFile', () => {
  it('parses quoted CSV fields', () => {
    expect(parseCsv('a,b\n"x, y","say ""hi"""\r\n1,2', 'f.csv')).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['1', '2'],
    ]);
    expect(() => parseCsv('a\n"open', 'f.csv')).toThrow(/never closes/);
  });

  it('finds the path column of a CSV', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-csv-'));
    await writeFile(join(dir, 'labels.csv'), 'Width,ClassId,Path\n30,14,Test/1.png\n');
    const rows = await readLabelFile(join(dir, 'labels.csv'), null);
    expect(rows).toEqual([{ path: 'Test/1.png', columns: { Width: '30', ClassId: '14', Path: 'Test/1.png' }, line: 2 }]);
    await expect(readLabelFile(join(dir, 'labels.csv'), 'File')).rejects.toThrow(LabelFileError);
  });

  it('rejects a name-value line with three fields', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-txt-'));
    await writeFile(join(dir, 'data.txt'), '0.jpg 90\n1.jpg 58 extra\n');
    await expect(readLabelFile(join(dir, 'data.txt'), null)).rejects.toThrow(/data\.txt line 2: expected `name value`/);
  });
});

describe('ingestFolder', () => {
  it('turns name-value labels into samples and skips unreadable files', async () => {
    const dir = await makeFolder();
    const sink = new ArraySink();
    const report = await ingestFolder(dir, { mapping: parseMapping(NAME_VALUE_MAPPING, 'm.yaml'), sink });
    expect(report.samples).toBe(3);
    expect(report.skipped).toBe(2);
    expect(report.skipReasons.join('\n')).toMatch(/broken\.jpg.*holds no PNG/);
    expect(report.skipReasons.join('\n')).toMatch(/missing\.jpg.*cannot read/);
    const records = sink.samples.map((s) => s.record);
    expect(records.map((r) => r.labels.steering)).toEqual([0, -32, 0]);
    const untransformed = new ArraySink();
    await ingestFolder(dir, { mapping: parseMapping({ folder: {}, labels: { steering: { column: 'value' } } }, 'm.yaml'), sink: untransformed });
    const missingLabels = parseMapping({ folder: { labels: 'absent.txt' }, labels: { steering: { column: 'value' } } }, 'm.yaml');
    await expect(ingestFolder(dir, { mapping: missingLabels, sink: new ArraySink() })).rejects.toThrow(
      /the label file .*absent\.txt cannot be read: .*Name an existing file of the image folder with folder\.labels/,
    );
    expect(untransformed.samples.map((s) => s.record.labels.steering)).toEqual([90, 58, 90]);
    expect(records[0]?.tags).toEqual(['night']);
    expect(records[0]?.width).toBe(4);
    expect(sink.samples[0]?.blobs.input.length).toBe(4 * 4 * 3);
    // 0.jpg and 2.jpg hold the same pixels and labels, so they are the same sample.
    expect(records[0]?.id).toBe(records[2]?.id);
    expect(records[0]?.id).not.toBe(records[1]?.id);
    expect(records[0]?.splitKey).not.toBe(records[2]?.splitKey);
  });

  it('names a label column the file lacks', async () => {
    const dir = await makeFolder();
    const mapping = parseMapping({ folder: {}, labels: { steering: { column: 'servo' } } }, 'm.yaml');
    await expect(ingestFolder(dir, { mapping, sink: new ArraySink() })).rejects.toThrow(/reads column servo, which .*data\.txt lacks/);
  });

  it('stops on a label that fails its transform', async () => {
    const dir = await makeFolder();
    const mapping = parseMapping({ folder: {}, labels: { turn: { column: 'value', transform: { map: { values: { '90': 'straight' } } } } } }, 'm.yaml');
    await expect(ingestFolder(dir, { mapping, sink: new ArraySink() })).rejects.toThrow(/label turn of 1\.jpg .*map has no entry for "58"/);
  });

  it('asks for a label file when none is found', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-empty-'));
    await mkdir(join(dir, 'sub'));
    await expect(ingestFolder(dir, { mapping: null, sink: null })).rejects.toThrow(/has no label file/);
  });

  const data = findSharedData();
  describe.skipIf(!data)('on shared/data (skipped: shared/data not found beside the repository)', () => {
    it('reads the RC-car frames with their servo labels', async () => {
      const sink = new ArraySink();
      const report = await ingestFolder(join(data as string, 'images/rc_night_frames'), {
        mapping: parseMapping({ folder: { labels: 'data.txt' }, image: { width: 64, height: 36 }, labels: { steering: { column: 'value' } } }, 'rc.yaml'),
        sink,
      });
      expect(report.samples).toBe(108);
      expect(report.skipped).toBe(0);
      const servo = sink.samples.map((s) => s.record.labels.steering as number);
      expect(servo.every((value) => typeof value === 'number')).toBe(true);
      expect(Math.min(...servo)).toBe(58);
      expect(Math.max(...servo)).toBe(107);
    });

    it('reads the GTSRB crops with class names', async () => {
      const sink = new ArraySink();
      const report = await ingestFolder(join(data as string, 'images/gtsrb'), {
        mapping: parseMapping({ folder: { labels: 'Test.csv', path_column: 'Path' }, image: { width: 32, height: 32 }, labels: { sign: { column: 'ClassId' } } }, 'gtsrb.yaml'),
        sink,
      });
      expect(report.samples).toBe(344);
      const perClass = new Map<string, number>();
      for (const { record } of sink.samples) perClass.set(String(record.labels.sign), (perClass.get(String(record.labels.sign)) ?? 0) + 1);
      expect(perClass.size).toBe(43);
      expect([...perClass.values()].every((count) => count === 8)).toBe(true);
    });
  });
});
