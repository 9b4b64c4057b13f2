import mqtt, { type IPublishPacket } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectCollector, type CollectorConnection } from '../../src/fleet/collector-connection.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/fleet/embedded-broker.ts';
import { silentLogger } from '../../src/fleet/silent-logger.ts';
import { waitFor } from './support/field-samples.ts';

const TOPIC = 'fieldloop/test-fleet/robots/rover-1/samples';

interface Received {
  packet: IPublishPacket;
  acknowledge: (error?: Error) => void;
}

describe('connectCollector', () => {
  let broker: EmbeddedBroker;
  const open: CollectorConnection[] = [];

  beforeEach(async () => {
    broker = await startEmbeddedBroker();
  });

  afterEach(async () => {
    for (const connection of open.splice(0)) await connection.client.endAsync(true);
    await broker.close();
  });

  async function connect(received: Received[], maxUnacknowledged?: number): Promise<CollectorConnection> {
    const connection = await connectCollector({
      broker: { url: broker.url, protocolVersion: 4, reconnectPeriodMs: 100 },
      clientId: 'connection-test',
      filter: TOPIC,
      startTimeoutMs: 5000,
      ...(maxUnacknowledged === undefined ? {} : { maxUnacknowledged }),
      handleMessage: (packet, acknowledge) => received.push({ packet, acknowledge }),
      log: silentLogger,
    });
    open.push(connection);
    return connection;
  }

  async function publish(count: number): Promise<void> {
    const publisher = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    for (let i = 0; i < count; i += 1) await publisher.publishAsync(TOPIC, `message ${i}`, { qos: 1 });
    await publisher.endAsync();
  }

  it('reads on before acknowledging', async () => {
    const received: Received[] = [];
    await connect(received);
    await publish(5);
    await waitFor(() => received.length === 5, 'five messages before any PUBACK');
    expect(received.map((entry) => entry.packet.payload.toString())).toEqual(['message 0', 'message 1', 'message 2', 'message 3', 'message 4']);
    for (const entry of received) entry.acknowledge();
  });

  it('stops reading at the bound', async () => {
    const received: Received[] = [];
    await connect(received, 2);
    await publish(4);
    await waitFor(() => received.length === 2, 'two messages');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received.length).toBe(2);
    received[0]?.acknowledge();
    await waitFor(() => received.length === 3, 'a third message after one PUBACK');
    for (const entry of received.slice(1)) entry.acknowledge();
    await waitFor(() => received.length === 4, 'the fourth message');
    received[3]?.acknowledge();
  });

  it('redelivers only unacknowledged messages', async () => {
    const received: Received[] = [];
    const first = await connect(received);
    await publish(3);
    await waitFor(() => received.length === 3, 'three messages');
    received[0]?.acknowledge();
    received[1]?.acknowledge();
    received[2]?.acknowledge(new Error('not durable'));
    // The PUBACKs must reach the broker before the connection ends.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await first.client.endAsync(true);
    open.splice(open.indexOf(first), 1);

    const again: Received[] = [];
    await connect(again);
    await waitFor(() => again.length === 1, 'one redelivered message');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(again.map((entry) => entry.packet.payload.toString())).toEqual(['message 2']);
    again[0]?.acknowledge();
  });

  it('sends no PUBACK over a newer connection', async () => {
    const received: Received[] = [];
    const connection = await connect(received);
    await publish(1);
    await waitFor(() => received.length === 1, 'one message');
    // The network connection drops and mqtt.js reconnects with the same session before the acknowledgement.
    const reconnected = new Promise((resolve) => connection.client.once('connect', resolve));
    connection.client.stream.destroy();
    await reconnected;
    received[0]?.acknowledge();
    await waitFor(() => received.length === 2, 'the message redelivered on the new connection');
    expect(received[1]?.packet.payload.toString()).toBe('message 0');
    received[1]?.acknowledge();
  });
});
