import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startEmbeddedBroker } from '../../src/fleet/embedded-broker.ts';
import { MqttUplink } from '../../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';
import { decodeFleetMessage } from '../../src/fleet/sample-codec.ts';
import { makeSample } from './support/field-samples.ts';

describe('MqttUplink', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-uplink-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('falls back to MQTT 3.1.1 for aedes', async () => {
    const broker = await startEmbeddedBroker();
    const queue = OutboundQueue.open({ path: join(dir, 'queue.db'), synchronous: 'normal' });
    const warnings: string[] = [];
    const log = { debug: () => {}, info: () => {}, warn: (_fields: Record<string, unknown>, message: string) => warnings.push(message), error: () => {} };
    const uplink = new MqttUplink({ fleet: 'test-fleet', robot: 'rover-1', broker: { url: broker.url, reconnectPeriodMs: 50 }, queue, log });
    try {
      const sample = makeSample('versioned');
      await uplink.add(sample.record, sample.blobs);
      await uplink.drain(10_000);
      expect(uplink.stats().acknowledged).toBe(1);
      expect(warnings).toContain('the broker rejected MQTT 5; the uplink reconnects with MQTT 3.1.1');
    } finally {
      await uplink.close();
      queue.close();
      await broker.close();
    }
  });

  it('queues a burst in groups', async () => {
    const queue = OutboundQueue.open({ path: join(dir, 'queue.db'), synchronous: 'normal' });
    const groups: number[] = [];
    const enqueueManyDeferred = queue.enqueueManyDeferred.bind(queue);
    vi.spyOn(queue, 'enqueueManyDeferred').mockImplementation((samples) => {
      groups.push(samples.length);
      return enqueueManyDeferred(samples);
    });
    // Nothing listens on port 1, so the uplink only queues.
    const uplink = new MqttUplink({ fleet: 'test-fleet', robot: 'rover-1', broker: { url: 'mqtt://127.0.0.1:1', reconnectPeriodMs: 60_000 }, queue });
    try {
      await Promise.all(Array.from({ length: 200 }, (_, index) => uplink.add(makeSample(`burst${index}`).record, makeSample(`burst${index}`).blobs)));
      expect(groups).toEqual([64, 64, 64, 8]);
      const sequences = queue.peek(0, 300).map((item) => {
        const decoded = decodeFleetMessage(item.payload);
        return decoded.kind === 'sample' ? decoded.sample.sequence : -1;
      });
      expect(sequences).toEqual(Array.from({ length: 200 }, (_, index) => index));
    } finally {
      await uplink.close();
      queue.close();
    }
  });

  it('send commits every staged sample first', async () => {
    const queue = OutboundQueue.open({ path: join(dir, 'queue.db'), synchronous: 'normal' });
    const uplink = new MqttUplink({ fleet: 'test-fleet', robot: 'rover-1', broker: { url: 'mqtt://127.0.0.1:1', reconnectPeriodMs: 60_000 }, queue });
    try {
      const staged = Array.from({ length: 100 }, (_, index) => uplink.add(makeSample(`staged${index}`).record, makeSample(`staged${index}`).blobs));
      const sample = makeSample('sent');
      expect(uplink.send(sample.record, sample.blobs, null)).toBe(100);
      await Promise.all(staged);
      expect(queue.stats().items).toBe(101);
      const last = decodeFleetMessage(queue.peek(100, 1)[0]!.payload);
      expect(last.kind === 'sample' ? last.sample.sequence : -1).toBe(100);
    } finally {
      await uplink.close();
      queue.close();
    }
  });
});
