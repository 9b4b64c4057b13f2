import { parse as parseYaml } from 'yaml';

/** One capture rule of a campaign. */
export type TriggerSpec =
  | { kind: 'confidence-band'; head: string; min: number; max: number }
  | { kind: 'margin'; head: string; below: number }
  | { kind: 'entropy'; head: string; above: number }
  | { kind: 'shadow-disagreement'; thresholds: Record<string, number> }
  /**
   * Fires where the prediction disagrees with the label the robot recorded for the frame, such as
   * its driver's steering command: by more than the threshold in label units for a regression
   * head, and with less than `1 - threshold` probability on the recorded class for the others.
   * It needs frames that carry their recorded labels; on frames without them it never fires.
   */
  | { kind: 'label-disagreement'; thresholds: Record<string, number> }
  | { kind: 'rare-class'; head: string; classes: string[] }
  | { kind: 'random'; probability: number };

/** A capture campaign: which frames to send home, and how many at most. */
export interface Campaign {
  name: string;
  triggers: TriggerSpec[];
  caps: { perMinute: number; perHour: number };
  /** Seed of the random-sampling trigger, so a campaign samples the same frames on replay. */
  seed: number;
}

/** Raised for an invalid campaign; the message names the field and the expected value. */
export class CampaignError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CampaignError';
  }
}

const KINDS = ['confidence-band', 'margin', 'entropy', 'shadow-disagreement', 'label-disagreement', 'rare-class', 'random'];

/** Parses a campaign from YAML or JSON text and validates it. */
export function parseCampaign(text: string, origin: string): Campaign {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new CampaignError(`campaign ${origin} is not valid YAML or JSON: ${(error as Error).message}`);
  }
  return validateCampaign(value, origin);
}

/** Validates a parsed campaign, filling defaults: caps 10 per minute and 100 per hour, seed 1. */
export function validateCampaign(value: unknown, origin: string): Campaign {
  const fail = (path: string, expected: string, got?: unknown): never => {
    throw new CampaignError(`campaign ${origin}: ${path} is invalid (${JSON.stringify(got) ?? 'missing'}); expected ${expected}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('(root)', 'a mapping with name, triggers and caps', value);
  const root = value as Record<string, unknown>;
  const name = root.name ?? 'default';
  if (typeof name !== 'string' || name === '') fail('name', 'a non-empty string', name);
  if (!Array.isArray(root.triggers)) fail('triggers', 'a list of triggers', root.triggers);
  const number = (path: string, got: unknown, min: number, max: number): number => {
    if (typeof got !== 'number' || !Number.isFinite(got) || got < min || got > max) fail(path, `a number from ${min} to ${max}`, got);
    return got as number;
  };
  const text = (path: string, got: unknown): string => {
    if (typeof got !== 'string' || got === '') fail(path, 'a head name', got);
    return got as string;
  };
  const triggers = (root.triggers as unknown[]).map((item, index): TriggerSpec => {
    const path = `triggers[${index}]`;
    if (typeof item !== 'object' || item === null) fail(path, 'a mapping with kind', item);
    const spec = item as Record<string, unknown>;
    switch (spec.kind) {
      case 'confidence-band': {
        const min = number(`${path}.min`, spec.min, 0, 1);
        const max = number(`${path}.max`, spec.max, min, 1);
        return { kind: 'confidence-band', head: text(`${path}.head`, spec.head), min, max };
      }
      case 'margin':
        return { kind: 'margin', head: text(`${path}.head`, spec.head), below: number(`${path}.below`, spec.below, 0, 1) };
      case 'entropy':
        return { kind: 'entropy', head: text(`${path}.head`, spec.head), above: number(`${path}.above`, spec.above, 0, 1) };
      case 'shadow-disagreement':
      case 'label-disagreement': {
        const thresholds = spec.thresholds;
        if (typeof thresholds !== 'object' || thresholds === null || Object.keys(thresholds).length === 0) {
          fail(`${path}.thresholds`, 'a mapping of head name to threshold', thresholds);
        }
        const checked = Object.fromEntries(
          Object.entries(thresholds as Record<string, unknown>).map(([head, threshold]) => [head, number(`${path}.thresholds.${head}`, threshold, 0, Number.MAX_VALUE)]),
        );
        return { kind: spec.kind, thresholds: checked };
      }
      case 'rare-class': {
        const classes = spec.classes;
        if (!Array.isArray(classes) || classes.length === 0 || !classes.every((item) => typeof item === 'string')) {
          fail(`${path}.classes`, 'a non-empty list of class names', classes);
        }
        return { kind: 'rare-class', head: text(`${path}.head`, spec.head), classes: classes as string[] };
      }
      case 'random':
        return { kind: 'random', probability: number(`${path}.probability`, spec.probability, 0, 1) };
      default:
        return fail(`${path}.kind`, `one of ${KINDS.join(', ')}`, spec.kind);
    }
  });
  const caps = (root.caps ?? {}) as Record<string, unknown>;
  const perMinute = caps.perMinute === undefined ? 10 : number('caps.perMinute', caps.perMinute, 0, 1e9);
  const perHour = caps.perHour === undefined ? 100 : number('caps.perHour', caps.perHour, 0, 1e9);
  const seed = root.seed === undefined ? 1 : number('seed', root.seed, 0, 2 ** 32 - 1);
  return { name: name as string, triggers, caps: { perMinute, perHour }, seed };
}
