import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Content of a pointer file: the bundle folder under `bundles/` and its version. */
export interface BundlePointer {
  bundle: string;
  version: number;
  /**
   * `probation` until the update agent confirms the model; a boot that finds it rolls back.
   * `paused` when a clean stop interrupted the probation; the next start boots the model and
   * resumes its probation.
   */
  state: 'probation' | 'paused' | 'good';
  /** Rollout that installed the model, for the reports of a resumed probation. */
  rolloutId?: string;
}

/**
 * The robot's bundle store:
 *
 *   bundles/<name>-v<version>/   verified bundles
 *   staging/                      updates being fetched and checked
 *   current, previous             pointer files (JSON BundlePointer), each replaced by rename
 *   rejected.json                 versions that failed, so a retained announcement is not retried
 *   probes/                       probe images for health checks
 *
 * Each pointer is written to a temporary file and renamed over the old one, so a crash leaves
 * either the old or the new pointer, never a partial one.
 */
export class ModelStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get bundlesDir(): string {
    return join(this.root, 'bundles');
  }

  get stagingDir(): string {
    return join(this.root, 'staging');
  }

  get probesDir(): string {
    return join(this.root, 'probes');
  }

  bundlePath(pointer: BundlePointer): string {
    return join(this.bundlesDir, pointer.bundle);
  }

  async init(): Promise<void> {
    await mkdir(this.bundlesDir, { recursive: true });
    await mkdir(this.stagingDir, { recursive: true });
    await mkdir(this.probesDir, { recursive: true });
  }

  /** Returns a fresh, empty staging folder. */
  async newStaging(label: string): Promise<string> {
    const dir = join(this.stagingDir, `${label}-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Moves a checked staging folder into `bundles/` and returns its folder name. */
  async promote(stagingPath: string, name: string, version: number): Promise<string> {
    const folder = `${name}-v${version}`;
    const target = join(this.bundlesDir, folder);
    await rm(target, { recursive: true, force: true });
    await rename(stagingPath, target);
    return folder;
  }

  async readPointer(which: 'current' | 'previous'): Promise<BundlePointer | null> {
    try {
      return JSON.parse(await readFile(join(this.root, which), 'utf8')) as BundlePointer;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new Error(`pointer file ${join(this.root, which)} is unreadable: ${(error as Error).message}`);
    }
  }

  async writePointer(which: 'current' | 'previous', pointer: BundlePointer | null): Promise<void> {
    const path = join(this.root, which);
    if (pointer === null) {
      await rm(path, { force: true });
      return;
    }
    const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temporary, JSON.stringify(pointer));
    await rename(temporary, path);
  }

  async rejectedVersions(): Promise<Record<string, string>> {
    try {
      return JSON.parse(await readFile(join(this.root, 'rejected.json'), 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }

  async markRejected(name: string, version: number, reason: string): Promise<void> {
    const rejected = await this.rejectedVersions();
    rejected[`${name}@${version}`] = reason;
    const path = join(this.root, 'rejected.json');
    const temporary = `${path}.tmp`;
    await writeFile(temporary, JSON.stringify(rejected, null, 2));
    await rename(temporary, path);
  }
}
