import type { LabelValue } from '@fieldloop/contracts';

/** One step that turns a raw field value into a label, applied in the order the mapping lists them. */
export type LabelTransform =
  | { kind: 'linear'; scale: number; offset: number }
  | { kind: 'clamp'; min: number; max: number }
  | { kind: 'round' }
  | { kind: 'threshold'; above: number }
  | { kind: 'map'; values: Record<string, LabelValue>; fallback: LabelValue | null }
  | { kind: 'regex'; pattern: RegExp; group: number }
  | { kind: 'classes'; names: string[] };

/** Raised when a value cannot pass a transform; the caller adds the topic and time. */
export class LabelTransformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelTransformError';
  }
}

function toNumber(value: unknown, step: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw new LabelTransformError(`${step} needs a number but got ${JSON.stringify(value)}`);
}

function applyOne(value: unknown, transform: LabelTransform): unknown {
  switch (transform.kind) {
    case 'linear':
      return toNumber(value, 'linear') * transform.scale + transform.offset;
    case 'clamp':
      return Math.min(transform.max, Math.max(transform.min, toNumber(value, 'clamp')));
    case 'round':
      return Math.round(toNumber(value, 'round'));
    case 'threshold':
      return toNumber(value, 'threshold') > transform.above;
    case 'map': {
      const key = String(value);
      if (Object.hasOwn(transform.values, key)) return transform.values[key];
      if (transform.fallback !== null) return transform.fallback;
      throw new LabelTransformError(
        `map has no entry for ${JSON.stringify(key)}; add it or set a default`,
      );
    }
    case 'regex': {
      const match = transform.pattern.exec(String(value));
      const captured = match?.[transform.group];
      if (captured === undefined) {
        throw new LabelTransformError(
          `regex ${transform.pattern} does not match ${JSON.stringify(value)} (group ${transform.group})`,
        );
      }
      return captured;
    }
    case 'classes': {
      const index = toNumber(value, 'classes');
      const name = Number.isInteger(index) ? transform.names[index] : undefined;
      if (name === undefined) {
        throw new LabelTransformError(
          `classes has ${transform.names.length} names, so ${index} is not a valid class index`,
        );
      }
      return name;
    }
  }
}

/** Applies transforms in order and checks that the result is a usable label value. */
export function applyTransforms(value: unknown, transforms: readonly LabelTransform[]): LabelValue {
  let current: unknown = typeof value === 'bigint' ? Number(value) : value;
  for (const transform of transforms) current = applyOne(current, transform);
  if (typeof current === 'number') {
    if (!Number.isFinite(current)) throw new LabelTransformError(`label is not finite: ${current}`);
    return current;
  }
  if (typeof current === 'string' || typeof current === 'boolean') return current;
  throw new LabelTransformError(
    `label must be a number, string or boolean, but the field holds ${JSON.stringify(current)}; ` +
      'point the mapping at a scalar field',
  );
}
