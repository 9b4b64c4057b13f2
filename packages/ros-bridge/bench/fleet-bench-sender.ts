import { join } from 'node:path';
import mqtt from 'mqtt';
import { MqttUplink } from '../src/fleet/mqtt-uplink.ts';
import { OutboundQueue, type QueueSynchronous } from '../src/fleet/outbound-queue.ts';
import { makeBenchSamples, plainPayloads } from './fleet-bench-samples.ts';

export const BENCH_FLEET = 'bench';
export const BENCH_ROBOT = 'bench-robot';
export const PLAIN_TOPIC = 'bench/plain';

/** Settings of one sending side of the bench: what it publishes, and to which broker. */
export interface SenderConfig {
  /** `plain`: mqtt.js QoS 1 publishes of the encoded samples. `robot`: the outbound queue and the uplink. */
  kind: 'plain' | 'robot';
  url: string;
  protocolVersion: 4 | 5;
  samples: number;
  /** Seed of `makeBenchSamples`, so every process builds the same samples. */
  seed: string;
  /** Directory in which the robot's outbound queue is created. */
  dir: string;
  synchronous: QueueSynchronous;
  /** Publishes of the uplink waiting for PUBACK at most. */
  maxInFlight: number;
}

/** A connected sender whose samples are built and, for the robot, not yet queued. */
export interface PreparedSender {
  /** Publishes every sample; resolves once the broker acknowledged all of them. */
  send(): Promise<void>;
  close(): Promise<void>;
}

/** Builds the samples and connects, so that `send` measures only the transfer. */
export async function prepareSender(config: SenderConfig): Promise<PreparedSender> {
  const samples = makeBenchSamples(config.samples, config.seed);
  if (config.kind === 'plain') {
    const payloads = plainPayloads(samples);
    const publisher = await mqtt.connectAsync(config.url, { protocolVersion: config.protocolVersion });
    return {
      send: async () => {
        await Promise.all(payloads.map((payload) => publisher.publishAsync(PLAIN_TOPIC, payload, { qos: 1 })));
      },
      close: () => publisher.endAsync(),
    };
  }
  const queue = OutboundQueue.open({ path: join(config.dir, 'queue.db'), synchronous: config.synchronous });
  const uplink = new MqttUplink({
    fleet: BENCH_FLEET,
    robot: BENCH_ROBOT,
    broker: { url: config.url, protocolVersion: config.protocolVersion },
    queue,
    maxMessagesPerSecond: 1e9,
    maxInFlight: config.maxInFlight,
  });
  const deadline = Date.now() + 10_000;
  while (!uplink.stats().connected) {
    if (Date.now() > deadline) throw new Error(`bench uplink did not connect to ${config.url} within 10 s; check that the broker runs`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    send: async () => {
      // Like the plain publisher, the robot side hands over every sample at once; add() commits them in groups.
      await Promise.all(samples.map((sample) => uplink.add(sample.record, { image: sample.image, input: sample.input })));
      await uplink.drain(300_000);
    },
    close: async () => {
      await uplink.close();
      queue.close();
    },
  };
}
