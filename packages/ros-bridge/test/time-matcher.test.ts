import { describe, expect, it } from 'vitest';
import { compareBigInt } from '@fieldloop/contracts';
import { TimeMatcher, type MatchedFrame } from '../src/mapping/time-matcher.ts';

const MS = 1_000_000n;

/** Feeds events in time order, as a recording yields them, and collects the matched frames. */
function run(
  matcher: TimeMatcher<number, number>,
  events: Array<{ kind: 'frame' | 'label' | 'state'; name?: string; time: bigint; value: number }>,
): MatchedFrame<number, number>[] {
  const out: MatchedFrame<number, number>[] = [];
  const sorted = [...events].sort((a, b) => compareBigInt(a.time, b.time));
  for (const event of sorted) {
    if (event.kind === 'frame') out.push(...matcher.pushFrame(event.time, event.value));
    else if (event.kind === 'label') out.push(...matcher.pushLabel(event.name ?? 'steer', event.time, event.value));
    else out.push(...matcher.pushState(event.name ?? 'tag', event.time, event.value));
  }
  out.push(...matcher.flush());
  return out;
}

describe('TimeMatcher', () => {
  it('pairs jittered labels with the nearest frame', () => {
    // Frames every 100 ms; each label is its frame's time plus up to +-30 ms of jitter, so
    // "latest label before the frame" would pick the wrong one whenever the jitter is positive.
    const jitterMs = [12, -25, 29, -3, 18, -29, 7, 25, -14, 0];
    const events = jitterMs.flatMap((jitter, i) => [
      { kind: 'frame' as const, time: BigInt(i) * 100n * MS, value: i },
      { kind: 'label' as const, time: BigInt(i) * 100n * MS + BigInt(jitter) * MS, value: 1000 + i },
    ]);
    const matched = run(new TimeMatcher([{ name: 'steer', toleranceNs: 35n * MS }], []), events);
    expect(matched.map((m) => m.frame)).toEqual(jitterMs.map((_, i) => i));
    expect(matched.map((m) => m.labels.get('steer'))).toEqual(jitterMs.map((_, i) => 1000 + i));
  });

  it('leaves a label out beyond tolerance', () => {
    const matched = run(new TimeMatcher([{ name: 'steer', toleranceNs: 10n * MS }], []), [
      { kind: 'frame', time: 0n, value: 0 },
      { kind: 'label', time: 11n * MS, value: 5 },
      { kind: 'frame', time: 100n * MS, value: 1 },
      { kind: 'label', time: 90n * MS, value: 6 },
    ]);
    expect(matched).toHaveLength(2);
    expect(matched[0]?.labels.has('steer')).toBe(false);
    expect(matched[1]?.labels.get('steer')).toBe(6);
  });

  it('breaks a tie toward the earlier label', () => {
    const matched = run(new TimeMatcher([{ name: 'steer', toleranceNs: 50n * MS }], []), [
      { kind: 'label', time: 90n * MS, value: 1 },
      { kind: 'frame', time: 100n * MS, value: 0 },
      { kind: 'label', time: 110n * MS, value: 2 },
    ]);
    expect(matched[0]?.labels.get('steer')).toBe(1);
  });

  it('gives states the latest value at or before a frame', () => {
    const matched = run(new TimeMatcher([], ['tag']), [
      { kind: 'frame', time: 5n, value: 0 },
      { kind: 'state', time: 10n, value: 1 },
      { kind: 'frame', time: 10n, value: 1 },
      { kind: 'state', time: 20n, value: 2 },
      { kind: 'frame', time: 25n, value: 2 },
    ]);
    expect(matched.map((m) => m.states.get('tag'))).toEqual([undefined, 1, 2]);
  });

  it('matches each head with its own tolerance', () => {
    const matcher = new TimeMatcher<number, number>(
      [
        { name: 'fast', toleranceNs: 5n * MS },
        { name: 'slow', toleranceNs: 200n * MS },
      ],
      [],
    );
    const matched = run(matcher, [
      { kind: 'frame', time: 1000n * MS, value: 0 },
      { kind: 'label', name: 'fast', time: 1010n * MS, value: 1 },
      { kind: 'label', name: 'slow', time: 1150n * MS, value: 2 },
    ]);
    expect(matched[0]?.labels.has('fast')).toBe(false);
    expect(matched[0]?.labels.get('slow')).toBe(2);
  });

  it('keeps its buffers bounded on a long stream', () => {
    const matcher = new TimeMatcher<number, number>([{ name: 'steer', toleranceNs: 30n * MS }], ['tag']);
    let resolved = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const t = BigInt(i) * 100n * MS;
      resolved += matcher.pushFrame(t, i).length;
      resolved += matcher.pushLabel('steer', t + 7n * MS, i).length;
      resolved += matcher.pushState('tag', t, i).length;
    }
    resolved += matcher.flush().length;
    expect(resolved).toBe(20_000);
    const internals = matcher as unknown as { labels: Map<string, { buffer: unknown[] }>; states: Map<string, unknown[]> };
    expect(internals.labels.get('steer')?.buffer.length).toBeLessThan(5);
    expect(internals.states.get('tag')?.length).toBeLessThan(5);
  });
});
