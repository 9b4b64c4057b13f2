import type { Logger } from '@fieldloop/contracts';
import type { MqttClient } from 'mqtt';

/**
 * Subscribes to `topic` now when the client is connected, and otherwise on its next `connect`,
 * so a robot that starts without network keeps serving and subscribes once the broker is
 * reachable. A failed subscription is logged and retried on the next connect. mqtt.js restores
 * successful subscriptions on reconnect by itself. Returns a function that stops the retries.
 */
export function subscribeWhenConnected(client: MqttClient, topic: string, qos: 0 | 1, log?: Logger): () => void {
  let subscribed = false;
  const attempt = (): void => {
    if (subscribed) return;
    client.subscribe(topic, { qos }, (error) => {
      if (error) {
        log?.warn({ topic, error: error.message }, 'MQTT subscribe failed; retrying on the next connect');
        return;
      }
      subscribed = true;
    });
  };
  client.on('connect', attempt);
  if (client.connected) attempt();
  return () => {
    client.off('connect', attempt);
  };
}
