import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { isBackendName, type BackendName } from '@fieldloop/trainer';
import { DEFAULT_GATE_POLICY, type GatePolicy } from '../gate/gate-policy.ts';

/** Settings of a project's rounds: the data, the teacher config, epochs and the gate's limits. */
export interface ProjectConfig {
  /** The file this config was read from. */
  file: string;
  /** Folder of real recordings; null generates the built-in procedural data in the project directory. */
  data: string | null;
  /** Data config naming the base sources and the recordings the simulated fleet replays. */
  dataConfig: string;
  teacherConfig: string;
  teacherEpochs: number | undefined;
  distillEpochs: number | undefined;
  /** Share of earlier samples in each fine-tuning round, in [0, 0.9]. */
  replay: number;
  backend: BackendName | undefined;
  gate: GatePolicy;
}

const PROJECT_KEYS = ['data', 'dataConfig', 'teacherConfig', 'teacherEpochs', 'distillEpochs', 'replay', 'backend', 'gate'];

function fail(file: string, problem: string): never {
  throw new Error(`project config ${file}: ${problem}`);
}

function optionalCount(file: string, root: Record<string, unknown>, key: string): number | undefined {
  const value = root[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) fail(file, `${key} must be a positive integer or null, got ${JSON.stringify(value)}`);
  return value;
}

function path(file: string, root: Record<string, unknown>, key: string, repoDir: string): string {
  const value = root[key];
  if (typeof value !== 'string' || value === '') fail(file, `${key} must be a path relative to the repository root`);
  return isAbsolute(value) ? value : join(repoDir, value);
}

function gatePolicy(file: string, value: unknown): GatePolicy {
  if (value === undefined || value === null) return DEFAULT_GATE_POLICY;
  if (typeof value !== 'object' || Array.isArray(value)) fail(file, 'gate must be a map of gate limits');
  const policy: GatePolicy = { ...DEFAULT_GATE_POLICY, tolerance: { ...DEFAULT_GATE_POLICY.tolerance } };
  for (const [key, limit] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'tolerance') {
      if (typeof limit !== 'object' || limit === null) fail(file, 'gate.tolerance must map head names to numbers');
      for (const [head, tolerance] of Object.entries(limit as Record<string, unknown>)) {
        if (typeof tolerance !== 'number' || tolerance < 0) fail(file, `gate.tolerance.${head} must be a number of at least 0`);
        policy.tolerance[head] = tolerance;
      }
    } else if (key === 'minGainOverBaseline' && limit === null) {
      policy.minGainOverBaseline = null;
    } else if (key in DEFAULT_GATE_POLICY) {
      if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) fail(file, `gate.${key} must be a number of at least 0, got ${JSON.stringify(limit)}`);
      (policy as unknown as Record<string, number>)[key] = limit;
    } else {
      fail(file, `gate.${key} is not a gate limit; known: ${Object.keys(DEFAULT_GATE_POLICY).join(', ')}`);
    }
  }
  return policy;
}

/** Reads a project config; relative paths resolve against `repoDir`. */
export async function loadProjectConfig(file: string, repoDir: string): Promise<ProjectConfig> {
  let document: unknown;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    fail(file, `cannot be read (${(error as Error).message}); pass an existing file with --config, such as configs/project/sim.yaml`);
  }
  try {
    document = parse(text);
  } catch (error) {
    fail(file, `is not valid YAML: ${(error as Error).message}`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) fail(file, 'must be a YAML map');
  const root = document as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!PROJECT_KEYS.includes(key)) fail(file, `${key} is not a project config key; known: ${PROJECT_KEYS.join(', ')}`);
  }
  const replay = root.replay ?? 0.5;
  if (typeof replay !== 'number' || replay < 0 || replay > 0.9) fail(file, `replay must be a share from 0 to 0.9, got ${JSON.stringify(replay)}`);
  const backend = root.backend ?? undefined;
  if (backend !== undefined && backend !== null && (typeof backend !== 'string' || !isBackendName(backend))) {
    fail(file, `backend must be tfjs-node-gpu, tfjs-node, wasm or cpu, got ${JSON.stringify(backend)}`);
  }
  return {
    file,
    data: root.data === null || root.data === undefined ? null : path(file, root, 'data', repoDir),
    dataConfig: path(file, root, 'dataConfig', repoDir),
    teacherConfig: path(file, root, 'teacherConfig', repoDir),
    teacherEpochs: optionalCount(file, root, 'teacherEpochs'),
    distillEpochs: optionalCount(file, root, 'distillEpochs'),
    replay,
    backend: backend === null ? undefined : (backend as BackendName | undefined),
    gate: gatePolicy(file, root.gate),
  };
}
