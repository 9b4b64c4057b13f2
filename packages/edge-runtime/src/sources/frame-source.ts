import type { FrameImage } from '../inference/preprocess.ts';

/** One camera frame on its way to inference. */
export interface Frame {
  /** Source-unique id: file name, `topic@logTime`, or a counter. */
  id: string;
  source: string;
  /** Capture time, milliseconds since the Unix epoch. */
  stamp: number;
  image: FrameImage;
  /** The frame's original bytes (encoded image or raw pixel data), for captured samples. */
  bytes: Uint8Array;
}

/** A producer of frames. */
export interface FrameSource {
  readonly name: string;
  /**
   * Live sources (camera, MQTT, real-time replay) deliver frames at their own pace, so the
   * runtime keeps only the newest waiting frame and counts the replaced ones as dropped. Other
   * sources are pulled one frame per inference and never drop.
   */
  readonly live: boolean;
  /** Frames the source could not turn into images (undecodable messages, empty payloads). */
  readonly malformed: number;
  frames(signal: AbortSignal): AsyncIterable<Frame>;
}

/** Resolves after `ms` milliseconds, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
