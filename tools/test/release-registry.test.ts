import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectPaths } from '../src/project/project-paths.ts';
import { appendRelease, readReleases, type Release } from '../src/project/release-registry.ts';

const temps: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fieldloop-releases-'));
  temps.push(dir);
  return dir;
}

function release(version: number, dir: string, teacherDir = join(dir, 'fleet', `v${version}`, 'teacher')): Release {
  return {
    version,
    round: version - 1,
    snapshotVersion: version,
    snapshotHash: `hash-${version}`,
    modelSha256: `sha-${version}`,
    bundleDir: join(dir, 'fleet', `v${version}`, 'bundle'),
    modelFile: join(dir, 'fleet', `v${version}`, 'student-int8.tflite'),
    teacherDir,
    publishedAt: '2026-12-05T00:00:00.000Z',
    robots: ['robot-1'],
  };
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('release registry', () => {
  it('stores paths relative to a moved project', async () => {
    const root = tempDir();
    const before = join(root, 'project');
    const outside = join(root, 'elsewhere', 'teacher');
    await appendRelease(projectPaths(before), release(1, before));
    await appendRelease(projectPaths(before), release(2, before, outside));
    const stored = JSON.parse(readFileSync(projectPaths(before).releases, 'utf8')) as Release[];
    expect(stored[0]?.bundleDir).toBe(join('fleet', 'v1', 'bundle'));
    expect(stored[1]?.teacherDir).toBe(outside);

    const after = join(root, 'moved');
    renameSync(before, after);
    const releases = await readReleases(projectPaths(after));
    expect(releases.map((r) => r.modelFile)).toEqual([release(1, after).modelFile, release(2, after).modelFile]);
    expect(releases[0]?.teacherDir).toBe(release(1, after).teacherDir);
    expect(releases[1]?.teacherDir).toBe(outside);
  });

  it('reads a registry with absolute paths', async () => {
    const dir = tempDir();
    const paths = projectPaths(dir);
    mkdirSync(join(dir, 'fleet'), { recursive: true });
    const old = release(1, '/srv/old-project');
    writeFileSync(paths.releases, JSON.stringify([old]));
    expect(await readReleases(paths)).toEqual([old]);
  });
});
