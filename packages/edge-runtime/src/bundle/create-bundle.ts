import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BundleManifest, HeadSpec, InputSpec, ModelFormat } from '@fieldloop/contracts';
import type { KeyObject } from 'node:crypto';
import { readModelFiles, type TfjsModelJson } from './bundle-files.ts';
import { signManifest } from './sign-manifest.ts';

export const MANIFEST_FILE = 'manifest.json';

export interface CreateBundleOptions {
  /** Output directory; created when missing. */
  dir: string;
  /** The `.tflite` file or the tfjs `model.json` (its weight files are copied beside it). */
  modelPath: string;
  name: string;
  version: number;
  heads: HeadSpec[];
  input: InputSpec;
  quantization?: 'float32' | 'int8';
  snapshotHash?: string | null;
  outputs?: Record<string, string>;
  /** Signs the manifest when given; an unsigned bundle fails verification. */
  privateKey?: KeyObject;
  created?: Date;
}

/** Copies the model into `dir`, writes its manifest with the model's sha256, and signs it. */
export async function createBundle(options: CreateBundleOptions): Promise<BundleManifest> {
  const format: ModelFormat = options.modelPath.endsWith('.tflite') ? 'tflite' : 'tfjs';
  await mkdir(options.dir, { recursive: true });
  const file = basename(options.modelPath);
  await copyFile(options.modelPath, join(options.dir, file));
  if (format === 'tfjs') {
    const modelJson = JSON.parse(await readFile(options.modelPath, 'utf8')) as TfjsModelJson;
    for (const weightFile of modelJson.weightsManifest.flatMap((group) => group.paths)) {
      await copyFile(join(dirname(options.modelPath), weightFile), join(options.dir, weightFile));
    }
  }
  const { sha256, bytes } = await readModelFiles(join(options.dir, file), format);
  let manifest: BundleManifest = {
    name: options.name,
    version: options.version,
    created: (options.created ?? new Date()).toISOString(),
    heads: options.heads,
    input: options.input,
    model: { file, format, sha256, bytes, quantization: options.quantization ?? 'float32', ...(options.outputs ? { outputs: options.outputs } : {}) },
    snapshotHash: options.snapshotHash ?? null,
  };
  if (options.privateKey) manifest = signManifest(manifest, options.privateKey);
  await writeFile(join(options.dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
