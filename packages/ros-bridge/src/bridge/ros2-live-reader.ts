import type { RawMessage, ReadLoss, RecordingChannel, RecordingReader } from '../recording/recording-reader.ts';
import type { RclNode, Rclnodejs } from './load-rclnodejs.ts';

export interface Ros2LiveReaderOptions {
  /** Topics to subscribe to; their types are looked up in the running ROS 2 graph. */
  topics: readonly string[];
  nodeName?: string;
  /** Messages buffered at most while ingest is busy; the oldest are dropped past it. Default 1000. */
  maxBuffered?: number;
}

/**
 * A RecordingReader over live ROS 2 topics, so that `ingestRecording` maps and time-matches
 * live messages exactly as it does recorded ones. Messages arrive serialized (CDR) through
 * rclnodejs raw subscriptions and are stamped with the receive time as log time. `messages()`
 * ends after `close()`.
 *
 * NOTE: written against the documented rclnodejs 1.x API (`Node`, `createSubscription` with
 * `isRaw`, `getTopicNamesAndTypes`, `spin`) and never run with rclnodejs, because it needs a
 * ROS 2 installation that the development machines lack. Tests drive it through a stand-in for
 * that API, fed with a recording's CDR messages.
 */
export class Ros2LiveReader implements RecordingReader {
  readonly format = 'ros2-live' as const;
  readonly path: string;
  readonly files: readonly string[];
  private readonly channelList: RecordingChannel[];
  private readonly buffer: RawMessage[] = [];
  private readonly lost: ReadLoss[] = [];
  private readonly maxBuffered: number;
  private wake: (() => void) | null = null;
  private closed = false;
  private dropped = 0;

  private constructor(
    private readonly rclnodejs: Rclnodejs,
    private readonly node: RclNode,
    channels: RecordingChannel[],
    maxBuffered: number,
  ) {
    this.channelList = channels;
    this.maxBuffered = maxBuffered;
    this.path = `ros2:${channels.map((channel) => channel.topic).join(',')}`;
    this.files = ['ros2-live'];
  }

  /** Starts a node and subscribes to the topics; throws when a topic is not in the graph. */
  static async open(rclnodejs: Rclnodejs, options: Ros2LiveReaderOptions): Promise<Ros2LiveReader> {
    await rclnodejs.init();
    const node = new rclnodejs.Node(options.nodeName ?? 'fieldloop_bridge');
    const graph = new Map(node.getTopicNamesAndTypes().map((entry) => [entry.name, entry.types[0]]));
    const channels: RecordingChannel[] = [];
    for (const [id, topic] of options.topics.entries()) {
      const type = graph.get(topic);
      if (type === undefined) {
        node.destroy();
        rclnodejs.shutdown();
        const known = [...graph.keys()].join(', ') || 'none';
        throw new Error(`ROS 2 topic ${topic} is not published in the running graph; its topics are: ${known}. Fix the mapping or start the publisher.`);
      }
      channels.push({ id, topic, type, encoding: 'cdr', definition: null, declaredCount: null });
    }
    const reader = new Ros2LiveReader(rclnodejs, node, channels, options.maxBuffered ?? 1000);
    for (const channel of channels) {
      node.createSubscription(channel.type, channel.topic, { isRaw: true }, (message) => reader.push(channel, message));
    }
    node.spin();
    return reader;
  }

  channels(): readonly RecordingChannel[] {
    return this.channelList;
  }

  async *messages(): AsyncIterable<RawMessage> {
    while (!this.closed || this.buffer.length > 0) {
      const next = this.buffer.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  losses(): readonly ReadLoss[] {
    return this.lost;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.dropped > 0) {
      this.lost.push({
        file: 'ros2-live',
        bytes: 0,
        messages: this.dropped,
        startTime: null,
        endTime: null,
        reason: `${this.dropped} live messages were dropped because ingest fell more than ${this.maxBuffered} messages behind.`,
      });
    }
    this.node.destroy();
    this.rclnodejs.shutdown();
    this.wake?.();
  }

  private push(channel: RecordingChannel, data: Buffer): void {
    if (this.closed) return;
    const now = BigInt(Date.now()) * 1_000_000n;
    this.buffer.push({ channel, logTime: now, publishTime: now, data, file: 'ros2-live' });
    if (this.buffer.length > this.maxBuffered) {
      this.buffer.shift();
      this.dropped += 1;
    }
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
