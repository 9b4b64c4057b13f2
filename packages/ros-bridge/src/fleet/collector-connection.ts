import type { Logger } from '@fieldloop/contracts';
import mqtt, { type IConnackPacket, type IPublishPacket, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { isProtocolVersionRefusal, mqttClientOptions, type BrokerOptions } from './broker-options.ts';

export interface CollectorConnectionOptions {
  broker: BrokerOptions;
  clientId: string;
  /** Topic filter to subscribe to with QoS 1, `$share/...` included. */
  filter: string;
  startTimeoutMs: number;
  /**
   * Messages received but not yet acknowledged, at most; default 256. The connection reads on
   * while fewer are open, so one state commit can cover many of them. At the bound it stops
   * reading until `acknowledge` is called for one of them. On MQTT 5 it is also the Receive
   * Maximum sent to the broker.
   */
  maxUnacknowledged?: number;
  /**
   * Receives each message. `acknowledge()` sends the PUBACK of a QoS 1 message.
   * `acknowledge(error)` sends none, so the broker redelivers the message after a reconnect.
   */
  handleMessage: (packet: IPublishPacket, acknowledge: (error?: Error) => void) => void;
  log: Logger;
}

export interface CollectorConnection {
  client: MqttClient;
  connack: IConnackPacket;
}

/**
 * PUBACK of a QoS 1 message: type 4 with flags 0, remaining length 2, then the packet id. MQTT
 * 3.1.1 (section 3.4) and MQTT 5.0 (section 3.4.2.1, reason code 0 with no properties omitted)
 * both define this 4-byte form.
 */
function pubackPacket(messageId: number): Buffer {
  const packet = Buffer.from([0x40, 0x02, 0, 0]);
  packet.writeUInt16BE(messageId, 2);
  return packet;
}

/**
 * Opens one persistent-session MQTT connection of a collector and resolves once the broker
 * granted its QoS 1 subscription.
 *
 * mqtt.js reads a connection's next packet only after the `handleMessage` callback of the previous
 * message, and that callback sends the PUBACK. A collector that acknowledges only durable
 * messages would then commit one message at a time. So each message's mqtt.js callback is called
 * with an error at once, which makes mqtt.js read on without a PUBACK, and this function writes
 * the PUBACK itself once `acknowledge` is called. PUBACKs go out in the order in which
 * `acknowledge` is called, which the collector keeps equal to the order of arrival, as MQTT
 * requires. A PUBACK for a message that arrived on an earlier network connection is not sent,
 * because the broker resends such a message after the reconnect.
 */
export async function connectCollector(options: CollectorConnectionOptions): Promise<CollectorConnection> {
  const { broker, clientId, filter, log } = options;
  const version = broker.protocolVersion ?? 5;
  const maxUnacknowledged = options.maxUnacknowledged ?? 256;
  if (!Number.isSafeInteger(maxUnacknowledged) || maxUnacknowledged < 1 || maxUnacknowledged > 65_535) {
    throw new RangeError(`collector maxUnacknowledged must be an integer from 1 to 65535, got ${maxUnacknowledged}`);
  }
  const clientOptions = mqttClientOptions(broker, {
    clientId,
    clean: false,
    ...(version === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600, receiveMaximum: maxUnacknowledged } } : {}),
    manualConnect: true,
  });
  const client = mqtt.connect(broker.url, clientOptions);
  let unacknowledged = 0;
  let resumeReading: (() => void) | null = null;
  client.handleMessage = (packet, callback) => {
    const stream = client.stream;
    let settled = false;
    unacknowledged += 1;
    options.handleMessage(packet, (error) => {
      if (settled) return;
      settled = true;
      unacknowledged -= 1;
      if (error === undefined && packet.qos > 0 && packet.messageId !== undefined && client.stream === stream && client.connected) {
        stream.write(pubackPacket(packet.messageId));
      }
      const resume = resumeReading;
      resumeReading = null;
      resume?.();
    });
    // The error only stops mqtt.js from sending its own PUBACK, and it reads the next packet.
    const readNext = (): void => callback(new Error('acknowledged by the collector after its state commit'));
    if (unacknowledged < maxUnacknowledged || settled) readNext();
    else resumeReading = readNext;
  };
  let connected = false;
  client.on('connect', (connack) => {
    log.info({ broker: broker.url, clientId, sessionPresent: connack.sessionPresent, filter }, 'collector connected');
    // mqtt.js subscribes again by itself only after a reconnect whose session the broker lost. A
    // shared subscription is renewed every time, because mosquitto 2.0.11 drops it on a restart.
    if (connected && connack.sessionPresent && filter.startsWith('$share/')) {
      // Without `resubscribe`, mqtt.js skips a filter that it already counts as subscribed.
      const renewal = { [filter]: { qos: 1 } } as ISubscriptionMap;
      renewal.resubscribe = true;
      client.subscribe(renewal, (error) => {
        if (error) log.error({ broker: broker.url, clientId, filter, error: error.message }, 'renewing the shared subscription failed');
      });
    }
    connected = true;
  });
  client.on('error', (error) => log.warn({ broker: broker.url, clientId, error: error.message }, 'collector connection error; retrying'));
  const startTimeoutMs = options.startTimeoutMs;
  return new Promise<CollectorConnection>((resolve, reject) => {
    const fail = (message: string, cause?: unknown): void => {
      clearTimeout(timeout);
      // end() from inside the first connect's error event leaves mqtt.js's reconnect timer running, so reconnects are turned off first.
      client.options.reconnectPeriod = 0;
      client.end(true);
      reject(new Error(message, { cause }));
    };
    // mqtt.js retries a refused connection without an error event, so the start needs its own limit.
    const timeout = setTimeout(
      () => fail(`collector could not connect to ${broker.url} within ${startTimeoutMs} ms; check the URL and that the broker runs`),
      startTimeoutMs,
    );
    const onError = (error: Error): void => {
      const hint = isProtocolVersionRefusal(error) ? `; the broker does not speak MQTT ${version}, so pass the version it speaks (4 for MQTT 3.1.1 brokers such as aedes)` : '';
      fail(`collector could not connect to ${broker.url}: ${error.message}${hint}`, error);
    };
    client.once('error', onError);
    client.once('connect', (connack) => {
      client.off('error', onError);
      client.subscribe(filter, { qos: 1 }, (error, granted) => {
        const code = granted?.[0]?.qos;
        if (error || code === undefined || code >= 0x80) {
          fail(`broker ${broker.url} rejected the subscription to ${filter}: ${error?.message ?? `reason code ${code}`}`, error);
        } else {
          clearTimeout(timeout);
          resolve({ client, connack });
        }
      });
    });
    client.connect();
  });
}
