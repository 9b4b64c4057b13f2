import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { writeFileAtomic } from '@fieldloop/distill';
import type { ProjectPaths } from './project-paths.ts';

/**
 * One model published to the fleet. Paths are absolute here. `releases.json` stores those inside
 * the project directory relative to it, so the directory can be moved or copied to another host.
 */
export interface Release {
  version: number;
  round: number;
  snapshotVersion: number;
  snapshotHash: string;
  modelSha256: string;
  bundleDir: string;
  modelFile: string;
  /** The teacher the model was distilled from; the next round fine-tunes it. */
  teacherDir: string;
  publishedAt: string;
  /** Robots that served this version when publishing finished. */
  robots: string[];
}

const PATH_FIELDS = ['bundleDir', 'modelFile', 'teacherDir'] as const;

/** Rewrites a release's paths with `rewrite`, which gets each path as stored or in memory. */
function withPaths(release: Release, rewrite: (path: string) => string): Release {
  const copy = { ...release };
  for (const field of PATH_FIELDS) copy[field] = rewrite(release[field]);
  return copy;
}

export async function readReleases(paths: ProjectPaths): Promise<Release[]> {
  if (!existsSync(paths.releases)) return [];
  const releases = JSON.parse(await readFile(paths.releases, 'utf8')) as unknown;
  if (!Array.isArray(releases)) throw new Error(`${paths.releases} is not a list of releases; restore it from a backup or remove the project directory ${paths.dir}`);
  // Registries written before paths were stored relative keep absolute paths, which stay as they are.
  return (releases as Release[]).map((release) => withPaths(release, (path) => (isAbsolute(path) ? path : join(paths.dir, path))));
}

/** Appends a release; the file is replaced whole, so a crash leaves the old list. */
export async function appendRelease(paths: ProjectPaths, release: Release): Promise<void> {
  const releases = await readReleases(paths);
  if (releases.some((r) => r.version === release.version)) throw new Error(`release v${release.version} already exists in ${paths.releases}`);
  const stored = [...releases, release].map((entry) =>
    withPaths(entry, (path) => {
      const inside = relative(paths.dir, path);
      return inside === '' || inside.startsWith('..') || isAbsolute(inside) ? path : inside;
    }),
  );
  await writeFileAtomic(paths.releases, new TextEncoder().encode(`${JSON.stringify(stored, null, 2)}\n`));
}

/** Returns the newest release trained on a snapshot other than `snapshotHash`, or null. */
export function baselineRelease(releases: readonly Release[], snapshotHash: string): Release | null {
  return [...releases].reverse().find((release) => release.snapshotHash !== snapshotHash) ?? null;
}

/** Returns the newest release, which is what the fleet serves. */
export function deployedRelease(releases: readonly Release[]): Release | null {
  return releases.at(-1) ?? null;
}

/**
 * Returns the release a round's basis names as its baseline, or undefined when it names none.
 * Throws when the registry no longer lists it.
 */
export async function readBaselineRelease(paths: ProjectPaths, baseline: { version: number } | null): Promise<Release | undefined> {
  if (!baseline) return undefined;
  const release = (await readReleases(paths)).find((candidate) => candidate.version === baseline.version);
  if (!release) throw new Error(`release v${baseline.version} is missing from ${paths.releases}; the fleet registry was changed by hand`);
  return release;
}
