import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ModelFormat } from '@fieldloop/contracts';

/** A model's bytes as engines load them. */
export type ModelFiles =
  | { format: 'tflite'; bytes: Uint8Array }
  | { format: 'tfjs'; modelJson: TfjsModelJson; weightData: ArrayBuffer; weightFiles: string[] };

/** The parts of a tfjs model.json that loading needs. */
export interface TfjsModelJson {
  format?: string;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: unknown[] }[];
  [key: string]: unknown;
}

/**
 * Reads a model file and returns its bytes for the engines, the sha256 and the byte count. For
 * tfjs, the hash covers model.json followed by the weight files in manifest order.
 */
export async function readModelFiles(path: string, format: ModelFormat): Promise<{ files: ModelFiles; sha256: string; bytes: number }> {
  const head = await readFile(path);
  const hash = createHash('sha256').update(head);
  if (format === 'tflite') {
    return { files: { format, bytes: new Uint8Array(head) }, sha256: hash.digest('hex'), bytes: head.length };
  }
  let modelJson: TfjsModelJson;
  try {
    modelJson = JSON.parse(head.toString('utf8')) as TfjsModelJson;
  } catch (error) {
    throw new Error(`tfjs model file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`tfjs model file ${path} has no modelTopology or weightsManifest; save the model with tfjs's model.save`);
  }
  const weightFiles = modelJson.weightsManifest.flatMap((group) => group.paths);
  const parts: Buffer[] = [];
  for (const file of weightFiles) {
    if (file.includes('/') || file.includes('\\') || file.startsWith('.')) {
      throw new Error(`tfjs weight path ${JSON.stringify(file)} in ${path} must be a plain file name beside model.json`);
    }
    const part = await readFile(join(dirname(path), file));
    hash.update(part);
    parts.push(part);
  }
  const weights = Buffer.concat(parts);
  const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  return {
    files: { format, modelJson, weightData, weightFiles },
    sha256: hash.digest('hex'),
    bytes: head.length + weights.length,
  };
}
