import { seededRandom, type LabelValue } from '@fieldloop/contracts';
import type { HeadPrediction } from '../inference/decode-outputs.ts';
import type { Prediction } from '../inference/predictor.ts';
import type { Campaign, TriggerSpec } from './campaign.ts';

/** Outcome of the triggers for one frame. */
export interface TriggerDecision {
  /** Reasons the frame is worth sending, one entry per trigger that fired. */
  reasons: string[];
  /** True when a trigger fired and the caps allow one more capture. */
  capture: boolean;
  /** True when a trigger fired but a cap held the capture back. */
  capped: boolean;
}


/** Difference of two head predictions: total variation distance for classes, absolute difference for values. */
export function headDisagreement(active: HeadPrediction, shadow: HeadPrediction): number {
  if (active.kind === 'regression' || shadow.kind === 'regression') {
    return active.kind === 'regression' && shadow.kind === 'regression' ? Math.abs(active.value - shadow.value) : Number.POSITIVE_INFINITY;
  }
  const names = new Set([...Object.keys(active.probabilities), ...Object.keys(shadow.probabilities)]);
  let sum = 0;
  for (const name of names) sum += Math.abs((active.probabilities[name] ?? 0) - (shadow.probabilities[name] ?? 0));
  return sum / 2;
}

/**
 * Distance of a head prediction from a recorded label: the absolute difference in label units
 * for a regression head, one minus the probability of the recorded class for the others.
 * A label the head cannot compare with (not a number, an unknown class) counts as infinitely far.
 */
export function labelDisagreement(predicted: HeadPrediction, label: LabelValue): number {
  if (predicted.kind === 'regression') {
    const value = typeof label === 'number' ? label : Number(label);
    return Number.isFinite(value) ? Math.abs(predicted.value - value) : Number.POSITIVE_INFINITY;
  }
  const probability = predicted.probabilities[String(label)];
  return probability === undefined ? Number.POSITIVE_INFINITY : 1 - probability;
}

/** Evaluates a campaign's triggers on each prediction and enforces its per-minute and per-hour caps. */
export class TriggerEngine {
  readonly campaign: Campaign;
  private readonly random: () => number;
  private readonly captures: number[] = [];

  constructor(campaign: Campaign) {
    this.campaign = campaign;
    this.random = seededRandom(campaign.seed);
  }

  /**
   * Decides for one frame; `now` is milliseconds since the epoch (injectable for replays).
   * `recorded` contains the labels the robot recorded for the frame, where it has them.
   */
  evaluate(active: Prediction, shadow: Prediction | null, now = Date.now(), recorded: Readonly<Record<string, LabelValue>> | null = null): TriggerDecision {
    const reasons = this.campaign.triggers.flatMap((trigger) => this.fire(trigger, active, shadow, recorded));
    if (reasons.length === 0) return { reasons, capture: false, capped: false };
    while (this.captures.length > 0 && this.captures[0]! <= now - 3_600_000) this.captures.shift();
    const lastMinute = this.captures.filter((time) => time > now - 60_000).length;
    if (lastMinute >= this.campaign.caps.perMinute || this.captures.length >= this.campaign.caps.perHour) {
      return { reasons, capture: false, capped: true };
    }
    this.captures.push(now);
    return { reasons, capture: true, capped: false };
  }

  private fire(trigger: TriggerSpec, active: Prediction, shadow: Prediction | null, recorded: Readonly<Record<string, LabelValue>> | null): string[] {
    if (trigger.kind === 'random') return this.random() < trigger.probability ? [`random sample (p=${trigger.probability})`] : [];
    if (trigger.kind === 'label-disagreement') {
      if (!recorded) return [];
      return Object.entries(trigger.thresholds).flatMap(([head, threshold]) => {
        const predicted = active.heads[head];
        const label = recorded[head];
        if (!predicted || label === undefined) return [];
        const difference = labelDisagreement(predicted, label);
        return difference > threshold ? [`${head} is ${difference.toFixed(3)} from the recorded ${String(label)} (> ${threshold})`] : [];
      });
    }
    if (trigger.kind === 'shadow-disagreement') {
      if (!shadow) return [];
      return Object.entries(trigger.thresholds).flatMap(([head, threshold]) => {
        const a = active.heads[head];
        const s = shadow.heads[head];
        if (!a || !s) return [];
        const difference = headDisagreement(a, s);
        return difference > threshold ? [`shadow v${shadow.model.version} disagrees on ${head} by ${difference.toFixed(3)} > ${threshold}`] : [];
      });
    }
    const head = active.heads[trigger.head];
    if (!head || head.kind === 'regression') return [];
    switch (trigger.kind) {
      case 'confidence-band':
        return head.confidence >= trigger.min && head.confidence <= trigger.max
          ? [`${trigger.head} confidence ${head.confidence.toFixed(3)} in [${trigger.min}, ${trigger.max}]`]
          : [];
      case 'margin':
        return head.margin < trigger.below ? [`${trigger.head} top-2 margin ${head.margin.toFixed(3)} < ${trigger.below}`] : [];
      case 'entropy':
        return head.entropy > trigger.above ? [`${trigger.head} entropy ${head.entropy.toFixed(3)} > ${trigger.above}`] : [];
      case 'rare-class':
        return trigger.classes.includes(head.label) ? [`${trigger.head} predicted rare class ${head.label}`] : [];
    }
  }
}
