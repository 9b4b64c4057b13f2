import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { computeSampleId, findSharedData, sha256Hex } from '../src/index.ts';

const INPUT = sha256Hex(new Uint8Array([1, 2, 3]));

describe('computeSampleId', () => {
  it('ignores label and tag order', () => {
    const a = computeSampleId(INPUT, { steering: 0.5, sign: 'stop' }, ['night', 'rain']);
    const b = computeSampleId(INPUT, { sign: 'stop', steering: 0.5 }, ['rain', 'night']);
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with pixels, labels and tags', () => {
    const base = computeSampleId(INPUT, { steering: 0.5 }, []);
    expect(computeSampleId(sha256Hex(new Uint8Array([9])), { steering: 0.5 }, [])).not.toBe(base);
    expect(computeSampleId(INPUT, { steering: 0.25 }, [])).not.toBe(base);
    expect(computeSampleId(INPUT, { steering: '0.5' }, [])).not.toBe(base);
    expect(computeSampleId(INPUT, { steering: 0.5 }, ['night'])).not.toBe(base);
  });

  it('hashes bytes as sha256 hex', () => {
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('findSharedData', () => {
  const saved = process.env.FIELDLOOP_SHARED_DATA;
  afterEach(() => {
    if (saved === undefined) delete process.env.FIELDLOOP_SHARED_DATA;
    else process.env.FIELDLOOP_SHARED_DATA = saved;
  });

  it('finds shared/data beside the repository root', async () => {
    delete process.env.FIELDLOOP_SHARED_DATA;
    const top = await mkdtemp(join(tmpdir(), 'fieldloop-shared-'));
    await mkdir(join(top, 'repo', 'packages', 'a'), { recursive: true });
    await writeFile(join(top, 'repo', 'nx.json'), '{}');
    expect(findSharedData(join(top, 'repo', 'packages', 'a'))).toBeNull();
    await mkdir(join(top, 'shared', 'data'), { recursive: true });
    expect(findSharedData(join(top, 'repo', 'packages', 'a'))).toBe(join(top, 'shared', 'data'));
  });

  it('prefers FIELDLOOP_SHARED_DATA', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-env-'));
    process.env.FIELDLOOP_SHARED_DATA = dir;
    expect(findSharedData('/')).toBe(dir);
    process.env.FIELDLOOP_SHARED_DATA = join(dir, 'absent');
    expect(findSharedData('/')).toBeNull();
  });
});
