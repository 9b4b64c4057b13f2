/** A value seen on a topic at a time, in nanoseconds. */
interface Stamped<T> {
  time: bigint;
  value: T;
}

/** An image together with what the matcher found for it. */
export interface MatchedFrame<TFrame, TValue> {
  time: bigint;
  frame: TFrame;
  /** Nearest value within tolerance per label stream; a stream without a match is absent. */
  labels: Map<string, TValue>;
  /** Latest value at or before the frame's time per state stream (tags). */
  states: Map<string, TValue>;
}

/** Options of one label stream. */
export interface LabelStream {
  name: string;
  toleranceNs: bigint;
}

/**
 * Pairs frames with label messages that are not stamped together. Each frame gets, per label
 * stream, the message nearest in time within that stream's tolerance, as ROS message_filters'
 * approximate-time policy does for one pivot topic; a tie goes to the earlier message. State
 * streams (scenario tags) give the latest message at or before the frame.
 *
 * Input must come roughly in time order: a frame is resolved once a message later than its time
 * plus the largest tolerance has arrived, so only that window is buffered.
 */
export class TimeMatcher<TFrame, TValue> {
  private readonly labels = new Map<string, { toleranceNs: bigint; buffer: Stamped<TValue>[] }>();
  private readonly states = new Map<string, Stamped<TValue>[]>();
  private readonly pending: Stamped<TFrame>[] = [];
  private readonly maxToleranceNs: bigint;
  private latest: bigint | null = null;

  constructor(labelStreams: readonly LabelStream[], stateStreams: readonly string[]) {
    let max = 0n;
    for (const stream of labelStreams) {
      this.labels.set(stream.name, { toleranceNs: stream.toleranceNs, buffer: [] });
      if (stream.toleranceNs > max) max = stream.toleranceNs;
    }
    for (const name of stateStreams) this.states.set(name, []);
    this.maxToleranceNs = max;
  }

  /** Adds a label message; returns frames that can no longer gain a better match. */
  pushLabel(name: string, time: bigint, value: TValue): MatchedFrame<TFrame, TValue>[] {
    const stream = this.labels.get(name);
    if (!stream) throw new Error(`unknown label stream ${name}`);
    insertSorted(stream.buffer, { time, value });
    return this.advance(time);
  }

  /** Adds a state message such as a scenario tag. */
  pushState(name: string, time: bigint, value: TValue): MatchedFrame<TFrame, TValue>[] {
    const buffer = this.states.get(name);
    if (!buffer) throw new Error(`unknown state stream ${name}`);
    insertSorted(buffer, { time, value });
    return this.advance(time);
  }

  /** Adds a frame to be matched. */
  pushFrame(time: bigint, frame: TFrame): MatchedFrame<TFrame, TValue>[] {
    insertSorted(this.pending, { time, value: frame });
    return this.advance(time);
  }

  /** Resolves every pending frame with what has arrived; call at the end of the input. */
  flush(): MatchedFrame<TFrame, TValue>[] {
    const done = this.pending.splice(0).map((item) => this.resolve(item));
    return done;
  }

  private advance(time: bigint): MatchedFrame<TFrame, TValue>[] {
    if (this.latest === null || time > this.latest) this.latest = time;
    const resolved: MatchedFrame<TFrame, TValue>[] = [];
    while (this.pending.length > 0 && (this.pending[0] as Stamped<TFrame>).time + this.maxToleranceNs < this.latest) {
      resolved.push(this.resolve(this.pending.shift() as Stamped<TFrame>));
    }
    this.prune();
    return resolved;
  }

  private resolve(item: Stamped<TFrame>): MatchedFrame<TFrame, TValue> {
    const labels = new Map<string, TValue>();
    for (const [name, stream] of this.labels) {
      const nearest = findNearest(stream.buffer, item.time, stream.toleranceNs);
      if (nearest) labels.set(name, nearest.value);
    }
    const states = new Map<string, TValue>();
    for (const [name, buffer] of this.states) {
      const latest = findLatestAtOrBefore(buffer, item.time);
      if (latest) states.set(name, latest.value);
    }
    return { time: item.time, frame: item.value, labels, states };
  }

  /** Drops messages that no pending or future frame can match. */
  private prune(): void {
    if (this.latest === null) return;
    const oldestFrame = this.pending[0]?.time ?? this.latest;
    const horizon = (oldestFrame < this.latest ? oldestFrame : this.latest) - 2n * this.maxToleranceNs;
    for (const stream of this.labels.values()) {
      let drop = 0;
      while (drop < stream.buffer.length && (stream.buffer[drop] as Stamped<TValue>).time < horizon) drop += 1;
      if (drop > 0) stream.buffer.splice(0, drop);
    }
    for (const buffer of this.states.values()) {
      let drop = 0;
      while (drop + 1 < buffer.length && (buffer[drop + 1] as Stamped<TValue>).time < horizon) drop += 1;
      if (drop > 0) buffer.splice(0, drop);
    }
  }
}

function insertSorted<T>(buffer: Stamped<T>[], item: Stamped<T>): void {
  let index = buffer.length;
  while (index > 0 && (buffer[index - 1] as Stamped<T>).time > item.time) index -= 1;
  buffer.splice(index, 0, item);
}

function absDiff(a: bigint, b: bigint): bigint {
  return a > b ? a - b : b - a;
}

function findNearest<T>(buffer: readonly Stamped<T>[], time: bigint, tolerance: bigint): Stamped<T> | null {
  let best: Stamped<T> | null = null;
  let bestDiff = 0n;
  for (const item of buffer) {
    const diff = absDiff(item.time, time);
    if (diff <= tolerance && (best === null || diff < bestDiff)) {
      best = item;
      bestDiff = diff;
    }
  }
  return best;
}

function findLatestAtOrBefore<T>(buffer: readonly Stamped<T>[], time: bigint): Stamped<T> | null {
  let found: Stamped<T> | null = null;
  for (const item of buffer) {
    if (item.time > time) break;
    found = item;
  }
  return found;
}
