import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@fieldloop/distill';
import type { ProjectPaths } from './project-paths.ts';

/** One model published to the fleet. Paths are absolute. */
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

export async function readReleases(paths: ProjectPaths): Promise<Release[]> {
  if (!existsSync(paths.releases)) return [];
  const releases = JSON.parse(await readFile(paths.releases, 'utf8')) as unknown;
  if (!Array.isArray(releases)) throw new Error(`${paths.releases} is not a list of releases; restore it from a backup or remove the project directory ${paths.dir}`);
  return releases as Release[];
}

/** Appends a release; the file is replaced whole, so a crash leaves the old list. */
export async function appendRelease(paths: ProjectPaths, release: Release): Promise<void> {
  const releases = await readReleases(paths);
  if (releases.some((r) => r.version === release.version)) throw new Error(`release v${release.version} already exists in ${paths.releases}`);
  await writeFileAtomic(paths.releases, new TextEncoder().encode(`${JSON.stringify([...releases, release], null, 2)}\n`));
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
