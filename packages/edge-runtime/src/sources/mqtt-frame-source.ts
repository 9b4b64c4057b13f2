import type { Logger } from '@fieldloop/contracts';
import type { MqttClient } from 'mqtt';
import { subscribeWhenConnected } from '../transport/subscribe-when-connected.ts';
import type { Frame, FrameSource } from './frame-source.ts';
import { PushedFrames } from './pushed-frames.ts';

/**
 * Frames from an MQTT topic whose payloads are encoded images (PNG, JPEG, ...). Live: frames
 * arrive at the publisher's pace. Empty payloads are counted as malformed; undecodable images
 * are counted by the runtime when it decodes them.
 */
export class MqttFrameSource implements FrameSource {
  readonly name: string;
  readonly live = true;
  malformed = 0;
  private readonly client: MqttClient;
  private readonly topic: string;
  private readonly log?: Logger;

  constructor(client: MqttClient, topic: string, log?: Logger) {
    this.client = client;
    this.topic = topic;
    this.log = log;
    this.name = `mqtt:${topic}`;
  }

  async *frames(signal: AbortSignal): AsyncIterable<Frame> {
    const pushed = new PushedFrames();
    let counter = 0;
    const onMessage = (topic: string, payload: Buffer): void => {
      if (topic !== this.topic) return;
      counter += 1;
      if (payload.length === 0) {
        this.malformed += 1;
        this.log?.warn({ topic, malformed: this.malformed }, 'skipping empty frame payload');
        return;
      }
      const bytes = new Uint8Array(payload);
      pushed.push({ id: `${topic}#${counter}`, source: this.name, stamp: Date.now(), image: { kind: 'encoded', bytes }, bytes });
    };
    this.client.on('message', onMessage);
    const stopSubscribing = subscribeWhenConnected(this.client, this.topic, 0, this.log);
    try {
      yield* pushed.drain(signal);
    } finally {
      this.client.off('message', onMessage);
      stopSubscribing();
      if (this.client.connected) await this.client.unsubscribeAsync(this.topic).catch(() => undefined);
    }
  }
}
