import { fleetTopics, type Logger } from '@fieldloop/contracts';
import type { MqttClient } from 'mqtt';
import type { EdgeRuntime } from '../inference/edge-runtime.ts';
import { subscribeWhenConnected } from '../transport/subscribe-when-connected.ts';
import { parseCampaign, type Campaign } from './campaign.ts';

/**
 * Applies the fleet's retained campaign (YAML or JSON) to the runtime whenever the base
 * replaces it. An invalid campaign is logged and ignored, so the previous one stays in force;
 * an empty retained message clears the campaign. It subscribes now or once the broker is
 * reachable. Returns a function that unsubscribes.
 */
export async function followCampaign(
  client: MqttClient,
  fleet: string,
  runtime: EdgeRuntime,
  log: Logger,
  onChange?: (campaign: Campaign | null) => void,
): Promise<() => Promise<void>> {
  const topic = fleetTopics.campaign(fleet);
  const onMessage = (messageTopic: string, payload: Buffer): void => {
    if (messageTopic !== topic) return;
    if (payload.length === 0) {
      runtime.setCampaign(null);
      log.info({ topic }, 'campaign cleared; no samples are captured');
      onChange?.(null);
      return;
    }
    try {
      const campaign = parseCampaign(payload.toString('utf8'), topic);
      runtime.setCampaign(campaign);
      log.info({ campaign: campaign.name, triggers: campaign.triggers.length }, 'campaign applied');
      onChange?.(campaign);
    } catch (error) {
      log.error({ topic, error: (error as Error).message }, 'invalid campaign ignored; the previous campaign stays in force');
    }
  };
  client.on('message', onMessage);
  const stopSubscribing = subscribeWhenConnected(client, topic, 1, log);
  return async () => {
    client.off('message', onMessage);
    stopSubscribing();
    if (client.connected) await client.unsubscribeAsync(topic).catch(() => undefined);
  };
}
