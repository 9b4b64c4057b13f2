import type { Logger } from '@fieldloop/contracts';
import { imageFromMessage } from '@fieldloop/ros-bridge';
import type { Frame, FrameSource } from './frame-source.ts';
import { PushedFrames } from './pushed-frames.ts';

/** The parts of rclnodejs this source uses. */
interface Rclnodejs {
  init(): Promise<void>;
  createNode(name: string): {
    createSubscription(type: string, topic: string, callback: (message: unknown) => void): unknown;
    destroy(): void;
  };
  spin(node: unknown): void;
  shutdown(): void;
}

/**
 * Live frames from a ROS 2 image topic through rclnodejs, which is an optional dependency: when
 * it cannot be loaded, `frames()` throws saying so. `type` is `sensor_msgs/msg/CompressedImage`
 * (default) or `sensor_msgs/msg/Image`.
 * NOTE: rclnodejs cannot be installed on the development machine, so this source has only been
 * run up to the missing-module error.
 */
export class Ros2TopicSource implements FrameSource {
  readonly name: string;
  readonly live = true;
  malformed = 0;

  constructor(
    private readonly topic: string,
    private readonly type = 'sensor_msgs/msg/CompressedImage',
    private readonly log?: Logger,
  ) {
    this.name = `ros2:${topic}`;
  }

  async *frames(signal: AbortSignal): AsyncIterable<Frame> {
    let rclnodejs: Rclnodejs;
    try {
      const moduleName = 'rclnodejs';
      const loaded = (await import(moduleName)) as { default?: Rclnodejs } & Rclnodejs;
      rclnodejs = loaded.default ?? loaded;
    } catch (error) {
      throw new Error(`ROS 2 source ${this.topic} needs rclnodejs, which failed to load (${(error as Error).message}); use a recording:, folder: or mqtt: source`);
    }
    await rclnodejs.init();
    const node = rclnodejs.createNode('fieldloop_edge_runtime');
    const pushed = new PushedFrames();
    let counter = 0;
    node.createSubscription(this.type, this.topic, (message) => {
      counter += 1;
      const origin = `${this.topic}#${counter}`;
      try {
        const image = imageFromMessage(message, origin);
        pushed.push({
          id: origin,
          source: this.name,
          stamp: Date.now(),
          image: image.kind === 'encoded' ? { kind: 'encoded', bytes: image.bytes } : { kind: 'raw', pixels: image.pixels },
          bytes: image.bytes,
        });
      } catch (error) {
        this.malformed += 1;
        this.log?.warn({ frame: origin, error: (error as Error).message, malformed: this.malformed }, 'skipping malformed frame');
      }
    });
    rclnodejs.spin(node);
    try {
      yield* pushed.drain(signal);
    } finally {
      node.destroy();
      rclnodejs.shutdown();
    }
  }
}
