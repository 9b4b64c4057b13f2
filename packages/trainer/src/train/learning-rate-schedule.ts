/**
 * Returns the learning rate at `step` (from 0): a linear warm-up over `warmupSteps` to `base`,
 * then a cosine decay to `base * floor` at `totalSteps`.
 */
export function learningRateAt(step: number, totalSteps: number, warmupSteps: number, base: number, floor = 0.01): number {
  if (warmupSteps > 0 && step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  const decaySteps = Math.max(totalSteps - warmupSteps, 1);
  const progress = Math.min(Math.max((step - warmupSteps) / decaySteps, 0), 1);
  return base * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
