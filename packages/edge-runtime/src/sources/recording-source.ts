import type { Logger } from '@fieldloop/contracts';
import { createMessageDecoder, imageFromMessage, openRecording } from '@fieldloop/ros-bridge';
import { sleep, type Frame, type FrameSource } from './frame-source.ts';

const IMAGE_TYPES = /(^|\/)(msg\/)?(CompressedImage|Image)$/;

export interface RecordingSourceOptions {
  /** Image topic; default: the first channel of type sensor_msgs Image or CompressedImage. */
  topic?: string;
  /** Replay at recorded speed times `speed` (live), or as fast as inference pulls (`0`). Default 1. */
  speed?: number;
  log?: Logger;
}

/** Frames from an image topic of a recording (MCAP, rosbag2 SQLite3, ROS 1 bag), through ros-bridge. */
export class RecordingSource implements FrameSource {
  readonly name: string;
  readonly live: boolean;
  malformed = 0;
  private readonly path: string;
  private readonly options: RecordingSourceOptions;

  constructor(path: string, options: RecordingSourceOptions = {}) {
    this.path = path;
    this.options = options;
    this.live = (options.speed ?? 1) > 0;
    this.name = `recording:${path}`;
  }

  async *frames(signal: AbortSignal): AsyncIterable<Frame> {
    const reader = await openRecording(this.path);
    try {
      const channels = reader.channels();
      const channel = this.options.topic
        ? channels.find((item) => item.topic === this.options.topic)
        : channels.find((item) => IMAGE_TYPES.test(item.type));
      if (!channel) {
        const topics = channels.map((item) => `${item.topic} (${item.type})`).join(', ');
        throw new Error(`recording ${this.path} has no image topic ${this.options.topic ?? ''}; its topics are ${topics}`);
      }
      const decoder = createMessageDecoder();
      const speed = this.options.speed ?? 1;
      let first: bigint | null = null;
      const started = performance.now();
      for await (const message of reader.messages()) {
        if (signal.aborted) return;
        if (message.channel.topic !== channel.topic) continue;
        first ??= message.logTime;
        if (speed > 0) {
          const due = Number(message.logTime - first) / 1e6 / speed;
          await sleep(due - (performance.now() - started), signal);
        }
        const origin = `${channel.topic}@${message.logTime}`;
        let frame: Frame;
        try {
          const image = imageFromMessage(decoder.decode(message), origin);
          frame = {
            id: origin,
            source: this.name,
            stamp: Number(message.logTime / 1_000_000n),
            image: image.kind === 'encoded' ? { kind: 'encoded', bytes: image.bytes } : { kind: 'raw', pixels: image.pixels },
            bytes: image.bytes,
          };
        } catch (error) {
          this.malformed += 1;
          this.options.log?.warn({ frame: origin, error: (error as Error).message, malformed: this.malformed }, 'skipping malformed frame');
          continue;
        }
        yield frame;
      }
    } finally {
      await reader.close();
    }
  }
}
