import type { HeadSpec, LabelValue } from '@fieldloop/contracts';
import type { AugmentConfig, FlipPolicy } from '../model/teacher-config.ts';
import type { SeededRandom } from './seeded-random.ts';

export interface AugmentedSample {
  pixels: Float32Array;
  labels: Record<string, LabelValue>;
}

function flipHorizontal(pixels: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      const to = (y * width + (width - 1 - x)) * 3;
      out[to] = pixels[from] ?? 0;
      out[to + 1] = pixels[from + 1] ?? 0;
      out[to + 2] = pixels[from + 2] ?? 0;
    }
  }
  return out;
}

/** Cuts the box (left, top, cropWidth, cropHeight) and resizes it back to width x height, bilinearly. */
function cropAndResize(pixels: Float32Array, width: number, height: number, left: number, top: number, cropWidth: number, cropHeight: number): Float32Array {
  const out = new Float32Array(pixels.length);
  const at = (x: number, y: number, c: number): number => pixels[(y * width + x) * 3 + c] ?? 0;
  for (let y = 0; y < height; y++) {
    const sy = top + ((y + 0.5) * cropHeight) / height - 0.5;
    const y0 = Math.min(Math.max(Math.floor(sy), 0), height - 1);
    const y1 = Math.min(y0 + 1, height - 1);
    const fy = Math.min(Math.max(sy - y0, 0), 1);
    for (let x = 0; x < width; x++) {
      const sx = left + ((x + 0.5) * cropWidth) / width - 0.5;
      const x0 = Math.min(Math.max(Math.floor(sx), 0), width - 1);
      const x1 = Math.min(x0 + 1, width - 1);
      const fx = Math.min(Math.max(sx - x0, 0), 1);
      for (let c = 0; c < 3; c++) {
        const top0 = at(x0, y0, c) * (1 - fx) + at(x1, y0, c) * fx;
        const bottom = at(x0, y1, c) * (1 - fx) + at(x1, y1, c) * fx;
        out[(y * width + x) * 3 + c] = top0 * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

/** Rule for one head's label under a horizontal flip. `center` is the value that a `negate` flip keeps fixed. */
export interface FlipRule {
  policy: FlipPolicy;
  center: number;
}

/**
 * Applies random augmentation to one sample. A horizontal flip happens only when no labelled head
 * of the sample forbids it, and it mirrors the labels of heads whose policy is `negate` around
 * their center: v becomes 2 * center - v.
 */
export function augmentSample(
  pixels: Float32Array,
  labels: Record<string, LabelValue>,
  width: number,
  height: number,
  heads: HeadSpec[],
  flipRules: Record<string, FlipRule>,
  config: AugmentConfig,
  random: SeededRandom,
): AugmentedSample {
  let out = pixels;
  let outLabels = labels;
  const labelled = heads.filter((head) => labels[head.name] !== undefined);
  const flipAllowed = labelled.every((head) => flipRules[head.name]?.policy !== 'forbid');
  if (config.flip > 0 && flipAllowed && random.next() < config.flip) {
    out = flipHorizontal(out, width, height);
    outLabels = { ...labels };
    for (const head of labelled) {
      const value = labels[head.name];
      const rule = flipRules[head.name];
      if (rule?.policy === 'negate' && typeof value === 'number') outLabels[head.name] = 2 * rule.center - value;
    }
  }
  if (config.crop > 0) {
    const scale = 1 - random.next() * config.crop;
    const cropWidth = width * scale;
    const cropHeight = height * scale;
    out = cropAndResize(out, width, height, random.next() * (width - cropWidth), random.next() * (height - cropHeight), cropWidth, cropHeight);
  }
  if (config.brightness > 0 || config.noise > 0) {
    const factor = 1 + (random.next() * 2 - 1) * config.brightness;
    const copy = out === pixels ? new Float32Array(out) : out;
    for (let i = 0; i < copy.length; i++) {
      const noise = config.noise > 0 ? random.normal() * config.noise : 0;
      copy[i] = Math.min(255, Math.max(0, (copy[i] ?? 0) * factor + noise));
    }
    out = copy;
  }
  return { pixels: out, labels: outLabels };
}
