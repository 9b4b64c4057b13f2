import type { HeadSpec } from '@fieldloop/contracts';
import type { TensorInfo } from '../engines/engine.ts';

/** One head's decoded prediction. */
export type HeadPrediction =
  | {
      kind: 'classification' | 'binary';
      /** Class with the highest probability. */
      label: string;
      confidence: number;
      /** Probability per class name. */
      probabilities: Record<string, number>;
      /** Top-1 minus top-2 probability. */
      margin: number;
      /** Shannon entropy of the probabilities in bits, divided by log2(class count), so 0..1. */
      entropy: number;
    }
  | {
      kind: 'regression';
      /** De-normalised value: `raw * std + mean`. */
      value: number;
      /** The model's output before de-normalisation. */
      raw: number;
    };

export function softmax(logits: ArrayLike<number>): number[] {
  const values = Array.from(logits);
  const max = Math.max(...values);
  const exps = values.map((value) => Math.exp(value - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((value) => value / sum);
}

export function sigmoid(logit: number): number {
  return 1 / (1 + Math.exp(-logit));
}

/**
 * Returns the output index of each head: the name in `outputNames` (manifest.model.outputs)
 * or the head's name, matched exactly or as a prefix before `/` or `:`; when no head name
 * matches and the counts agree, heads map to outputs in order.
 */
export function mapHeadsToOutputs(heads: readonly HeadSpec[], outputs: readonly TensorInfo[], outputNames: Record<string, string> = {}): number[] {
  const byName = heads.map((head) => {
    const wanted = outputNames[head.name] ?? head.name;
    return outputs.findIndex((output) => output.name === wanted || output.name.startsWith(`${wanted}/`) || output.name.startsWith(`${wanted}:`));
  });
  if (byName.every((index) => index >= 0) && new Set(byName).size === heads.length) return byName;
  if (outputs.length === heads.length) return heads.map((_, index) => index);
  throw new Error(
    `model outputs [${outputs.map((output) => output.name).join(', ')}] do not match heads [${heads.map((head) => head.name).join(', ')}]; ` +
      'name the outputs after the heads or set manifest.model.outputs',
  );
}

/**
 * Decodes one head's output values. Classification outputs are logits passed through softmax,
 * except when they already are a probability vector (all in [0, 1], summing to 1 within 1e-4),
 * so models that end in a softmax layer decode too. Binary heads take one logit (sigmoid) or two
 * (softmax).
 */
export function decodeHead(head: HeadSpec, values: Float32Array): HeadPrediction {
  if (head.kind === 'regression') {
    const raw = values[0] ?? Number.NaN;
    const norm = head.normalization ?? { mean: 0, std: 1 };
    return { kind: 'regression', raw, value: raw * norm.std + norm.mean };
  }
  let probabilities: number[];
  if (head.kind === 'binary' && values.length === 1) {
    const positive = sigmoid(values[0] ?? Number.NaN);
    probabilities = [1 - positive, positive];
  } else {
    const list = Array.from(values);
    const sum = list.reduce((a, b) => a + b, 0);
    const isProbabilities = list.every((value) => value >= 0 && value <= 1) && Math.abs(sum - 1) < 1e-4;
    probabilities = isProbabilities ? list : softmax(list);
  }
  const names = head.classes ?? (head.kind === 'binary' ? ['negative', 'positive'] : probabilities.map((_, index) => String(index)));
  if (names.length !== probabilities.length) {
    throw new Error(`head ${head.name} has ${names.length} class names but the model outputs ${probabilities.length} values`);
  }
  const order = probabilities.map((_, index) => index).sort((a, b) => probabilities[b]! - probabilities[a]!);
  const top = order[0]!;
  const second = order[1];
  const entropyBits = -probabilities.reduce((sum, p) => (p > 0 ? sum + p * Math.log2(p) : sum), 0);
  return {
    kind: head.kind,
    label: names[top]!,
    confidence: probabilities[top]!,
    probabilities: Object.fromEntries(names.map((name, index) => [name, probabilities[index]!])),
    margin: probabilities[top]! - (second === undefined ? 0 : probabilities[second]!),
    entropy: probabilities.length > 1 ? entropyBits / Math.log2(probabilities.length) : 0,
  };
}

/** Returns whether every number in a decoded prediction is finite. */
export function isFinitePrediction(heads: Record<string, HeadPrediction>): boolean {
  return Object.values(heads).every((head) =>
    head.kind === 'regression' ? Number.isFinite(head.value) : Object.values(head.probabilities).every(Number.isFinite),
  );
}
