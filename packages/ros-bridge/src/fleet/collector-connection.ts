import type { Logger } from '@fieldloop/contracts';
import mqtt, { type IConnackPacket, type IPublishPacket, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { mqttClientOptions, type BrokerOptions } from './broker-options.ts';

export interface CollectorConnectionOptions {
  broker: BrokerOptions;
  clientId: string;
  /** Topic filter to subscribe to with QoS 1, `$share/...` included. */
  filter: string;
  startTimeoutMs: number;
  /** Receives each QoS 1 message; mqtt.js sends the PUBACK when `done` is called without an error. */
  handleMessage: (packet: IPublishPacket, done: (error?: Error) => void) => void;
  log: Logger;
}

export interface CollectorConnection {
  client: MqttClient;
  connack: IConnackPacket;
}

/**
 * Opens one persistent-session MQTT connection of a collector and resolves once the broker
 * granted its QoS 1 subscription. mqtt.js passes this connection's messages to `handleMessage` one
 * at a time: it takes the next only after `done` of the previous one.
 */
export async function connectCollector(options: CollectorConnectionOptions): Promise<CollectorConnection> {
  const { broker, clientId, filter, log } = options;
  const version = broker.protocolVersion ?? 5;
  const clientOptions = mqttClientOptions(broker, {
    clientId,
    clean: false,
    ...(version === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
    manualConnect: true,
  });
  const client = mqtt.connect(broker.url, clientOptions);
  client.handleMessage = options.handleMessage;
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
      client.end(true);
      reject(new Error(message, { cause }));
    };
    // mqtt.js retries a refused connection without an error event, so the start needs its own limit.
    const timeout = setTimeout(
      () => fail(`collector could not connect to ${broker.url} within ${startTimeoutMs} ms; check the URL and that the broker runs`),
      startTimeoutMs,
    );
    const onError = (error: Error): void => fail(`collector could not connect to ${broker.url}: ${error.message}`, error);
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
