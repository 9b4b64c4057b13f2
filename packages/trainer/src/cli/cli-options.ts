import type { SnapshotRef } from '@fieldloop/dataset';
import { isBackendName, type BackendName } from '../backend/select-backend.ts';

export function requiredString(options: Record<string, unknown>, name: string, flag: string): string {
  const value = options[name];
  if (typeof value !== 'string' || value === '') throw new Error(`Missing ${flag}. Run the command with --help for its options.`);
  return value;
}

export function optionalString(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Parses `--snapshot`: a version number, a manifest hash, or `latest`. */
export function snapshotRef(value: string | undefined): SnapshotRef {
  if (value === undefined || value === 'latest') return 'latest';
  return /^\d+$/.test(value) ? Number(value) : value;
}

export function backendOption(value: string | undefined): BackendName | undefined {
  if (value === undefined) return undefined;
  if (!isBackendName(value)) throw new Error(`Invalid --backend '${value}'. Use tfjs-node-gpu, tfjs-node, wasm or cpu.`);
  return value;
}

export function numberOption(value: string | undefined, flag: string, check: (n: number) => boolean, rule: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || !check(parsed)) throw new Error(`Invalid ${flag} '${value}': it must be ${rule}.`);
  return parsed;
}
