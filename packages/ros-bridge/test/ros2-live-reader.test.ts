import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RclNode, RclSubscriptionOptions, Rclnodejs } from '../src/bridge/load-rclnodejs.ts';
import { Ros2LiveReader } from '../src/bridge/ros2-live-reader.ts';
import { createMessageDecoder, DefinitionRegistry } from '../src/decode/index.ts';
import { ingestRecording } from '../src/ingest/ingest-recording.ts';
import { parseMapping } from '../src/mapping/load-mapping.ts';
import { openRecording } from '../src/recording/open-recording.ts';
import { ArraySink } from './support/array-sink.ts';
import { buildDrive, DRIVE_TOPICS, writeDriveMcap, type Drive } from './support/drive-recording.ts';

// These tests run the live reader against an in-process stand-in for the part of the rclnodejs
// API that it uses, fed with the CDR bytes of a recorded drive. They check the reader and the
// ingest behind it, not rclnodejs itself, which needs a ROS 2 installation.

interface Subscription {
  type: string;
  topic: string;
  options: RclSubscriptionOptions;
  deliver: (message: Buffer) => void;
}

/** Returns a stand-in for rclnodejs whose graph publishes `topics` and that records what the reader asks of it. */
function fakeRclnodejs(topics: Record<string, string>): Rclnodejs & { subscriptions: Subscription[]; calls: string[] } {
  const subscriptions: Subscription[] = [];
  const calls: string[] = [];
  class FakeNode implements RclNode {
    constructor(name: string) {
      calls.push(`node ${name}`);
    }

    createSubscription(type: string, topic: string, options: RclSubscriptionOptions, deliver: (message: Buffer) => void): unknown {
      subscriptions.push({ type, topic, options, deliver });
      return {};
    }

    getTopicNamesAndTypes(): Array<{ name: string; types: string[] }> {
      return Object.entries(topics).map(([name, type]) => ({ name, types: [type] }));
    }

    spin(): void {
      calls.push('spin');
    }

    destroy(): void {
      calls.push('destroy');
    }
  }
  return {
    subscriptions,
    calls,
    init: async () => {
      calls.push('init');
    },
    Node: FakeNode,
    shutdown: () => {
      calls.push('shutdown');
    },
  };
}

const mapping = parseMapping(
  {
    image: { topic: DRIVE_TOPICS.image, width: 8, height: 6 },
    labels: { steering: { topic: DRIVE_TOPICS.steering, field: 'data', tolerance_ms: 45 } },
    tags: [{ topic: DRIVE_TOPICS.status, field: 'data', transform: { regex: '^run:(.*)$' } }],
    split: { by: 'segment', seconds: 1 },
  },
  'live.yaml',
);
const graph = {
  [DRIVE_TOPICS.image]: 'sensor_msgs/msg/CompressedImage',
  [DRIVE_TOPICS.steering]: 'std_msgs/msg/Float32',
  [DRIVE_TOPICS.status]: 'std_msgs/msg/String',
};
const topics = [DRIVE_TOPICS.image, DRIVE_TOPICS.steering, DRIVE_TOPICS.status];

function decoder(): ReturnType<typeof createMessageDecoder> {
  return createMessageDecoder({ definitions: new DefinitionRegistry() });
}

describe('Ros2LiveReader', () => {
  let drive: Drive;

  beforeAll(async () => {
    drive = await buildDrive(30);
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('subscribes raw to each topic', async () => {
    const rclnodejs = fakeRclnodejs(graph);
    const reader = await Ros2LiveReader.open(rclnodejs, { topics });
    expect(rclnodejs.subscriptions.map((subscription) => [subscription.topic, subscription.type, subscription.options.isRaw])).toEqual(
      topics.map((topic) => [topic, graph[topic], true]),
    );
    expect(reader.channels().map((channel) => channel.encoding)).toEqual(['cdr', 'cdr', 'cdr']);
    await reader.close();
    expect(rclnodejs.calls).toEqual(['init', 'node fieldloop_bridge', 'spin', 'destroy', 'shutdown']);
  });

  it('rejects a topic missing from the graph', async () => {
    const rclnodejs = fakeRclnodejs({ [DRIVE_TOPICS.image]: graph[DRIVE_TOPICS.image] });
    await expect(Ros2LiveReader.open(rclnodejs, { topics })).rejects.toThrow(
      `ROS 2 topic ${DRIVE_TOPICS.steering} is not published in the running graph; its topics are: ${DRIVE_TOPICS.image}`,
    );
    expect(rclnodejs.calls.slice(-2)).toEqual(['destroy', 'shutdown']);
  });

  it('gives ingest the samples of a replay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-live-'));
    try {
      const file = join(dir, 'drive.mcap');
      await writeDriveMcap(file, drive);
      const replayed = new ArraySink();
      await ingestRecording(await openRecording(file), { mapping, decoder: decoder(), sink: replayed });

      const rclnodejs = fakeRclnodejs(graph);
      const reader = await Ros2LiveReader.open(rclnodejs, { topics });
      const live = new ArraySink();
      const ingest = ingestRecording(reader, { mapping, decoder: decoder(), sink: live });
      // Each message arrives at its recorded log time, which the reader takes as its receive time.
      vi.useFakeTimers({ toFake: ['Date'] });
      for (const message of drive.messages) {
        vi.setSystemTime(Number(message.logTime / 1_000_000n));
        rclnodejs.subscriptions.find((subscription) => subscription.topic === message.topic)?.deliver(Buffer.from(message.data));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await reader.close();
      const report = await ingest;

      expect(replayed.samples.length).toBeGreaterThan(20);
      expect(live.samples.map((sample) => sample.record.id)).toEqual(replayed.samples.map((sample) => sample.record.id));
      expect(live.samples.map((sample) => sample.record.labels)).toEqual(replayed.samples.map((sample) => sample.record.labels));
      expect(live.samples[0]?.record.source.file).toBe('ros2-live');
      expect(report.samples).toBe(replayed.samples.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('drops the oldest messages when ingest falls behind', async () => {
    const rclnodejs = fakeRclnodejs(graph);
    const reader = await Ros2LiveReader.open(rclnodejs, { topics, maxBuffered: 5 });
    const steering = rclnodejs.subscriptions.find((subscription) => subscription.topic === DRIVE_TOPICS.steering)!;
    for (let i = 0; i < 8; i += 1) steering.deliver(Buffer.from([i]));
    await reader.close();
    const received: number[] = [];
    for await (const message of reader.messages()) received.push(message.data[0] as number);
    expect(received).toEqual([3, 4, 5, 6, 7]);
    expect(reader.losses()).toEqual([expect.objectContaining({ messages: 3, file: 'ros2-live' })]);
  });
});
