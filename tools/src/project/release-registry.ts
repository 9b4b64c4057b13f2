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

/** The newest release trained on a snapshot other than `snapshotHash`, or null. */
export function baselineRelease(releases: readonly Release[], snapshotHash: string): Release | null {
  return [...releases].reverse().find((release) => release.snapshotHash !== snapshotHash) ?? null;
}

/** The newest release, which is what the fleet serves. */
export function deployedRelease(releases: readonly Release[]): Release | null {
  return releases.at(-1) ?? null;
}
