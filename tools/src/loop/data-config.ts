import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

/** One recording or image folder with the mapping that turns it into samples. */
export interface DataSource {
  /** Absolute path of the recording or folder. */
  path: string;
  /** Absolute path of the mapping file. */
  mapping: string;
}

/** Base training data and the recordings the simulated fleet replays. */
export interface DataConfig {
  base: DataSource[];
  fleet: { robots: number; recordings: DataSource[] };
}

function fail(file: string, problem: string): never {
  throw new Error(`data config ${file}: ${problem}`);
}

function readSources(file: string, value: unknown, key: string, dataDir: string, repoDir: string): DataSource[] {
  if (!Array.isArray(value) || value.length === 0) fail(file, `${key} must be a non-empty list of {path, mapping} entries`);
  return value.map((entry: unknown, index) => {
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
  const root = (document ?? {}) as { base?: unknown; fleet?: { robots?: unknown; recordings?: unknown } };
  const robots = root.fleet?.robots ?? 2;
  if (typeof robots !== 'number' || !Number.isInteger(robots) || robots < 1 || robots > 64) {
    fail(file, `fleet.robots must be an integer from 1 to 64, got ${JSON.stringify(robots)}`);
  }
  return {
    base: readSources(file, root.base, 'base', resolve(dataDir), repoDir),
    fleet: { robots, recordings: readSources(file, root.fleet?.recordings, 'fleet.recordings', resolve(dataDir), repoDir) },
  };
}
