import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { validateCampaign, type Campaign } from '@fieldloop/edge-runtime';

/** One recording or image folder with the mapping that turns it into samples. */
export interface DataSource {
  /** Absolute path of the recording or folder. */
  path: string;
  /** Absolute path of the mapping file. */
  mapping: string;
}

/** Base training data, and the recordings the simulated fleet replays with its capture campaign. */
export interface DataConfig {
  base: DataSource[];
  fleet: { robots: number; recordings: DataSource[]; campaign: Campaign };
}

/**
 * The campaign of a fleet whose data config names none: one frame in three at random, with caps
 * high enough for replays at full speed.
 */
export const DEFAULT_FLEET_CAMPAIGN: Campaign = {
  name: 'fleet-default',
  triggers: [{ kind: 'random', probability: 0.35 }],
  caps: { perMinute: 100_000, perHour: 1_000_000 },
  seed: 7,
};

function fail(file: string, problem: string): never {
  throw new Error(`data config ${file}: ${problem}`);
}

/** Throws on a key that the loop does not read, such as a misspelt one, in a mapping of the config. */
function checkKeys(file: string, value: unknown, path: string, known: readonly string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) fail(file, `${path}${key} is not a known key (known: ${known.join(', ')})`);
  }
}

function readSources(file: string, value: unknown, key: string, dataDir: string, repoDir: string): DataSource[] {
  if (!Array.isArray(value) || value.length === 0) fail(file, `${key} must be a non-empty list of {path, mapping} entries`);
  return value.map((entry: unknown, index) => {
    checkKeys(file, entry, `${key}[${index}].`, ['path', 'mapping']);
    const item = entry as { path?: unknown; mapping?: unknown } | null;
    if (typeof item?.path !== 'string' || typeof item.mapping !== 'string') {
      fail(file, `${key}[${index}] needs a path (relative to the data folder) and a mapping (relative to the repository)`);
    }
    return {
      path: isAbsolute(item.path) ? item.path : join(dataDir, item.path),
      mapping: isAbsolute(item.mapping) ? item.mapping : join(repoDir, item.mapping),
    };
  });
}

/** Reads a data config; `path` entries resolve against `dataDir`, mappings against `repoDir`. */
export async function loadDataConfig(file: string, dataDir: string, repoDir: string): Promise<DataConfig> {
  let document: unknown;
  try {
    document = parse(await readFile(file, 'utf8'));
  } catch (error) {
    fail(file, `cannot be read as YAML: ${(error as Error).message}`);
  }
  const root = (document ?? {}) as { base?: unknown; fleet?: { robots?: unknown; recordings?: unknown; campaign?: unknown } };
  checkKeys(file, root, '', ['base', 'fleet']);
  checkKeys(file, root.fleet, 'fleet.', ['robots', 'recordings', 'campaign']);
  const robots = root.fleet?.robots ?? 2;
  if (typeof robots !== 'number' || !Number.isInteger(robots) || robots < 1 || robots > 64) {
    fail(file, `fleet.robots must be an integer from 1 to 64, got ${JSON.stringify(robots)}`);
  }
  const campaign = root.fleet?.campaign === undefined ? DEFAULT_FLEET_CAMPAIGN : validateCampaign(root.fleet.campaign, `fleet.campaign of data config ${file}`);
  return {
    base: readSources(file, root.base, 'base', resolve(dataDir), repoDir),
    fleet: { robots, recordings: readSources(file, root.fleet?.recordings, 'fleet.recordings', resolve(dataDir), repoDir), campaign },
  };
}
