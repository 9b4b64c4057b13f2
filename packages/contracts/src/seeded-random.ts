/**
 * Advances mulberry32, a small seeded generator whose whole state is one 32-bit integer, and
 * returns the new state (unsigned) with a float in [0, 1). Every seeded choice in fieldloop
 * (shuffles, augmentation, capture sampling, generated data) uses it, so runs repeat exactly.
 */
export function mulberry32Next(state: number): [next: number, value: number] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = Math.imul(next ^ (next >>> 15), next | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [next, ((t ^ (t >>> 14)) >>> 0) / 4294967296];
}

/** Creates a seeded generator of floats in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    const [next, value] = mulberry32Next(state);
    state = next;
    return value;
  };
}
