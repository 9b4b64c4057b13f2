import type { Writable } from 'node:stream';
import { fleetTopics } from '@fieldloop/contracts';
import type { MqttClient } from 'mqtt';
import type { Prediction } from '../inference/predictor.ts';

/** One output line: a frame's predictions. */
export interface PredictionRecord {
  robot: string;
  frameId: string;
  source: string;
  /** Frame capture time, milliseconds since the epoch. */
  stamp: number;
  prediction: Prediction;
}

export interface PredictionSink {
  write(record: PredictionRecord): Promise<void>;
}

/** Writes each record as one JSON line to a stream (stdout in the CLI). */
export class JsonLinesSink implements PredictionSink {
  private readonly stream: Writable;
  constructor(stream: Writable) {
    this.stream = stream;
  }
  async write(record: PredictionRecord): Promise<void> {
    if (!this.stream.write(`${JSON.stringify(record)}\n`)) {
      await new Promise<void>((resolve) => this.stream.once('drain', resolve));
    }
  }
}

/** Publishes each record as JSON on the robot's predictions topic, QoS 0. */
export class MqttPredictionSink implements PredictionSink {
  private readonly client: MqttClient;
  private readonly topic: string;
  constructor(client: MqttClient, fleet: string, robot: string) {
    this.client = client;
    this.topic = fleetTopics.predictions(fleet, robot);
  }
  async write(record: PredictionRecord): Promise<void> {
    await this.client.publishAsync(this.topic, JSON.stringify(record), { qos: 0 });
  }
}

/** Keeps records in memory, for tests. */
export class MemorySink implements PredictionSink {
  readonly records: PredictionRecord[] = [];
  async write(record: PredictionRecord): Promise<void> {
    this.records.push(record);
  }
}
