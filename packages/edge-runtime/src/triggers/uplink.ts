import { fleetTopics } from '@fieldloop/contracts';
import type { MqttClient } from 'mqtt';
import type { Prediction } from '../inference/predictor.ts';

/** A frame worth learning from, with the models' predictions and the reasons it was captured. */
export interface CapturedSample {
  robot: string;
  /** Capture time, ISO 8601. */
  time: string;
  frameId: string;
  source: string;
  /** The frame's original bytes: an encoded image, or raw pixels as described by `raw`. */
  image: Uint8Array;
  raw?: { width: number; height: number; channels: number };
  predictions: Prediction;
  shadow: Prediction | null;
  reasons: string[];
  campaign: string;
}

/** Destination of captured samples. The fleet transport provides the durable implementation. */
export interface Uplink {
  send(sample: CapturedSample): Promise<void>;
}

/** Keeps samples in memory, for tests and dry runs. */
export class MemoryUplink implements Uplink {
  readonly samples: CapturedSample[] = [];
  async send(sample: CapturedSample): Promise<void> {
    this.samples.push(sample);
  }
}

/** Returns the JSON form of a sample: the image as base64, everything else as is. */
export function sampleToJson(sample: CapturedSample): string {
  return JSON.stringify({ ...sample, image: Buffer.from(sample.image).toString('base64') });
}

/**
 * Publishes each sample as JSON (image in base64) on the robot's samples topic with QoS 1.
 * It does not queue while the broker is unreachable; the fleet transport's uplink does.
 */
export class DirectMqttUplink implements Uplink {
  private readonly client: MqttClient;
  private readonly topic: string;

  constructor(client: MqttClient, fleet: string, robot: string) {
    this.client = client;
    this.topic = fleetTopics.samples(fleet, robot);
  }

  async send(sample: CapturedSample): Promise<void> {
    await this.client.publishAsync(this.topic, sampleToJson(sample), { qos: 1 });
  }
}
