import { join } from 'node:path';

/** The stages of a project-mode round, in the order they run. */
export const STAGES = ['ingest', 'train', 'distill', 'export', 'evaluate', 'gate', 'publish', 'report'] as const;
export type StageName = (typeof STAGES)[number];

/** Paths of a project directory's state and of each stage's artifacts. */
export interface ProjectPaths {
  dir: string;
  /** The data set store: base ingests and field batches, kept across rounds. */
  store: string;
  /** The built-in procedural data, when the project has no real data. */
  sim: string;
  /** Record of the ingested base sources, with their content fingerprints. */
  ingested: string;
  /** Every model published to the fleet, oldest first. */
  releases: string;
  /** Signed bundles and the teachers behind them, one folder per version. */
  releaseDir: (version: number) => string;
  keys: string;
  /** Each simulated robot's bundle store and outbound queue. */
  robot: (id: string) => string;
  collectorState: string;
  /** One record per finished round, for the report. */
  history: string;
  /** The artifacts of one stage; the Nx targets cache this folder. */
  stage: (name: StageName) => string;
}

export function projectPaths(dir: string): ProjectPaths {
  return {
    dir,
    store: join(dir, 'store'),
    sim: join(dir, 'sim'),
    ingested: join(dir, 'ingested.json'),
    releases: join(dir, 'fleet', 'releases.json'),
    releaseDir: (version) => join(dir, 'fleet', `v${version}`),
    keys: join(dir, 'keys', 'release-signing-key.json'),
    robot: (id) => join(dir, 'robots', id),
    collectorState: join(dir, 'collector.sqlite'),
    history: join(dir, 'history'),
    stage: (name) => join(dir, 'stages', name),
  };
}
