import type { BundleManifest } from '@fieldloop/contracts';

/** Checks the shape of a parsed manifest and returns it typed; throws naming the first invalid field. */
export function validateManifest(value: unknown, origin: string): BundleManifest {
  const fail = (field: string, expected: string): never => {
    throw new Error(`${origin}: field ${field} is missing or invalid, expected ${expected}`);
  };
  if (typeof value !== 'object' || value === null) fail('(root)', 'an object');
  const manifest = value as Record<string, unknown>;
  if (typeof manifest.name !== 'string' || manifest.name === '') fail('name', 'a non-empty string');
  if (!Number.isInteger(manifest.version) || (manifest.version as number) < 0) fail('version', 'a non-negative integer');
  if (typeof manifest.created !== 'string' || Number.isNaN(Date.parse(manifest.created))) fail('created', 'an ISO 8601 time');
  if (!Array.isArray(manifest.heads) || manifest.heads.length === 0) fail('heads', 'a non-empty array of head specs');
  for (const [index, head] of (manifest.heads as unknown[]).entries()) {
    const spec = head as Record<string, unknown>;
    if (typeof spec?.name !== 'string') fail(`heads[${index}].name`, 'a string');
    if (!['classification', 'binary', 'regression'].includes(String(spec.kind))) fail(`heads[${index}].kind`, 'classification, binary or regression');
  }
  const input = manifest.input as Record<string, unknown> | undefined;
  if (!input || !Number.isInteger(input.width) || !Number.isInteger(input.height)) fail('input', 'an input spec with integer width and height');
  if (!Array.isArray(input?.mean) || !Array.isArray(input?.std)) fail('input.mean/std', 'arrays of 3 numbers');
  const model = manifest.model as Record<string, unknown> | undefined;
  if (!model || typeof model.file !== 'string') fail('model.file', 'a file name');
  if (model?.format !== 'tflite' && model?.format !== 'tfjs') fail('model.format', 'tflite or tfjs');
  if (typeof model?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(model.sha256)) fail('model.sha256', '64 lowercase hex digits');
  const file = String(model?.file);
  if (file.includes('/') || file.includes('\\') || file.startsWith('.')) fail('model.file', 'a plain file name inside the bundle');
  return value as BundleManifest;
}
