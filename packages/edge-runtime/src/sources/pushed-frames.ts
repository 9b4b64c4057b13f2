import type { Frame } from './frame-source.ts';

/**
 * Frames pushed by a callback (an MQTT or ROS 2 subscription), read back as an async iterable
 * until a signal aborts. Frames wait in arrival order; the runtime decides which to drop.
 */
export class PushedFrames {
  private readonly queue: Frame[] = [];
  private wake: (() => void) | null = null;

  push(frame: Frame): void {
    this.queue.push(frame);
    this.wake?.();
  }

  /** Yields frames as they are pushed, and returns once `signal` aborts. */
  async *drain(signal: AbortSignal): AsyncIterable<Frame> {
    const onAbort = (): void => this.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const frame = this.queue.shift();
        if (frame) {
          yield frame;
          continue;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
