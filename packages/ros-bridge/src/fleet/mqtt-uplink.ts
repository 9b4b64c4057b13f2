import { EventEmitter } from 'node:events';
import { assertFleetId, fleetTopics, type Logger, type SampleRecord } from '@fieldloop/contracts';
import mqtt, { type MqttClient } from 'mqtt';
import type { SampleBlobs, SampleSink } from '../ingest/sample-sink.ts';
import { isProtocolVersionRefusal, mqttClientOptions, type BrokerOptions } from './broker-options.ts';
import type { OutboundMessage, OutboundQueue, QueuedMessage } from './outbound-queue.ts';
import { encodeSamplePayloads, newBootId, type FieldSampleExtra } from './sample-codec.ts';
import { silentLogger } from './silent-logger.ts';
import { TokenBucket } from './token-bucket.ts';

export interface MqttUplinkOptions {
  fleet: string;
  robot: string;
  broker: BrokerOptions;
  queue: OutboundQueue;
  /** Random per process start unless given. */
  bootId?: string;
  /** MQTT payloads above this size are split into chunks; default 256 KiB. */
  maxPayloadBytes?: number;
  /** Publishes per second at most, replays included; default 200. */
  maxMessagesPerSecond?: number;
  /** Publishes waiting for PUBACK at most; default 32. */
  maxInFlight?: number;
  log?: Logger;
}

export interface MqttUplinkStats {
  /** Samples queued by this process. */
  queued: number;
  /** Messages acknowledged by the broker and removed from the queue. */
  acknowledged: number;
  /** Messages the broker rejected with an error reason code (for example not authorized); removed and not retried. */
  rejected: number;
  connected: boolean;
}

/**
 * Samples that one queue append of staged `add` calls takes at most. The pump publishes after
 * each append, so a burst of samples starts to go out before the whole burst is queued.
 */
const MAX_SAMPLES_PER_COMMIT = 64;

/** MQTT 5 reason codes of 0x80 and above are failures that a resend does not fix. */
function reasonCodeOf(error: Error): number | null {
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'number' && code >= 0x80 ? code : null;
}

/**
 * Sends samples to the fleet's sample topic with QoS 1 through a durable queue. `add` only
 * queues; a pump publishes the oldest queued messages while connected, at most `maxInFlight`
 * unacknowledged and `maxMessagesPerSecond`, and removes each message at its PUBACK. Messages
 * that were in flight when the link dropped are resent by mqtt.js after it reconnects. Messages
 * still queued when the process dies are sent by the next process that opens the same queue.
 */
export class MqttUplink implements SampleSink {
  readonly bootId: string;
  readonly topic: string;
  private readonly options: MqttUplinkOptions;
  private readonly client: MqttClient;
  private readonly bucket: TokenBucket;
  private readonly maxInFlight: number;
  private readonly maxPayloadBytes: number;
  private readonly log: Logger;
  private readonly events = new EventEmitter();
  private readonly inFlight = new Set<number>();
  private lastSentId = 0;
  private batch: QueuedMessage[] = [];
  private acknowledgedIds: number[] = [];
  private staged: Array<{ messages: OutboundMessage[]; resolve: () => void; reject: (error: Error) => void }> = [];
  private nextSequence = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly counts = { queued: 0, acknowledged: 0, rejected: 0 };

  constructor(options: MqttUplinkOptions) {
    assertFleetId('fleet', options.fleet);
    assertFleetId('robot', options.robot);
    this.options = options;
    this.bootId = options.bootId ?? newBootId();
    this.topic = fleetTopics.samples(options.fleet, options.robot);
    this.maxInFlight = options.maxInFlight ?? 32;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 256 * 1024;
    const rate = options.maxMessagesPerSecond ?? 200;
    this.bucket = new TokenBucket(rate, Math.max(1, Math.min(rate, this.maxInFlight)));
    this.log = options.log ?? silentLogger;
    this.client = mqtt.connect(
      options.broker.url,
      mqttClientOptions(options.broker, { clientId: `fieldloop-${options.robot}-${this.bootId.slice(0, 8)}`, clean: true }),
    );
    this.client.on('connect', () => {
      this.log.info({ robot: options.robot, broker: options.broker.url, queued: options.queue.stats().items }, 'uplink connected');
      this.pump();
    });
    this.client.on('close', () => this.log.debug({ robot: options.robot }, 'uplink connection closed'));
    this.client.on('error', (error) => {
      // Without a fixed protocol version the uplink speaks MQTT 5 and falls back to 3.1.1 for
      // brokers such as aedes. mqtt.js builds each reconnect's CONNECT from `client.options`.
      const refused = isProtocolVersionRefusal(error);
      if (refused && options.broker.protocolVersion === undefined && this.client.options.protocolVersion === 5) {
        this.client.options.protocolVersion = 4;
        this.log.warn({ robot: options.robot, broker: options.broker.url }, 'the broker rejected MQTT 5; the uplink reconnects with MQTT 3.1.1');
        return;
      }
      const hint = refused ? ' (the broker does not speak this MQTT version: set the version it speaks)' : '';
      this.log.warn({ robot: options.robot, broker: options.broker.url, error: `${error.message}${hint}` }, 'uplink connection error; retrying');
    });
  }

  /**
   * Queues a sample without predictions; part of SampleSink, so ingest can feed the uplink. It
   * resolves once the sample's queue records are synced to the disk (written, with a `normal`
   * queue). Calls made in the same event-loop turn share appends of up to MAX_SAMPLES_PER_COMMIT
   * samples, and so one disk sync each. The pump may publish a sample before its sync ends.
   */
  add(record: SampleRecord, blobs: SampleBlobs): Promise<void> {
    const messages = this.encode(record, blobs, null);
    return new Promise((resolve, reject) => {
      this.staged.push({ messages, resolve, reject });
      if (this.staged.length === 1) setImmediate(() => this.commitStagedInGroups());
    });
  }

  /** Queues a sample with optional predictions and trigger reasons at once and returns its sequence number. */
  send(record: SampleRecord, blobs: SampleBlobs, extra: FieldSampleExtra | null): number {
    const sequence = this.nextSequence;
    const messages = this.encode(record, blobs, extra);
    // Samples staged by add() come first, so the queue keeps the sequence order.
    this.commitStaged();
    this.logDropped(this.options.queue.enqueue(messages));
    this.pump();
    return sequence;
  }

  /** Encodes a sample under the next sequence number. */
  private encode(record: SampleRecord, blobs: SampleBlobs, extra: FieldSampleExtra | null): OutboundMessage[] {
    if (this.closed) throw new Error(`uplink of robot ${this.options.robot} is closed; create a new one to send sample ${record.id}`);
    const sample = { robot: this.options.robot, bootId: this.bootId, sequence: this.nextSequence, record, image: blobs.image, input: blobs.input, extra };
    const payloads = encodeSamplePayloads(sample, this.maxPayloadBytes);
    this.nextSequence += 1;
    this.counts.queued += 1;
    return payloads.map((payload) => ({ topic: this.topic, payload }));
  }

  /** Commits the staged samples one group per event-loop turn, so PUBACKs are handled in between. */
  private commitStagedInGroups(): void {
    this.commitStaged(MAX_SAMPLES_PER_COMMIT);
    if (this.staged.length > 0) setImmediate(() => this.commitStagedInGroups());
  }

  /**
   * Appends up to `limit` staged samples, oldest first, with one write, and starts the pump at
   * once. Their `add` calls resolve when the queue's background sync covers them.
   */
  private commitStaged(limit = Number.POSITIVE_INFINITY): void {
    if (this.staged.length === 0) return;
    const staged = this.staged.splice(0, limit);
    let synced: Promise<void>;
    try {
      const appended = this.options.queue.enqueueManyDeferred(staged.map((entry) => entry.messages));
      this.logDropped(appended.dropped);
      synced = appended.synced;
    } catch (error) {
      for (const entry of staged) entry.reject(error as Error);
      return;
    }
    synced.then(
      () => {
        for (const entry of staged) entry.resolve();
      },
      (error: unknown) => {
        this.log.error({ robot: this.options.robot, samples: staged.length, error: (error as Error).message }, 'syncing queued samples failed');
        for (const entry of staged) entry.reject(error as Error);
      },
    );
    this.pump();
  }

  private logDropped(dropped: number): void {
    if (dropped > 0) this.log.warn({ robot: this.options.robot, dropped }, 'outbound queue full: dropped the oldest messages');
  }

  stats(): MqttUplinkStats {
    return { ...this.counts, connected: this.client.connected };
  }

  /** Resolves once the queue is empty; rejects after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.options.queue.stats().items === 0) return;
    await new Promise<void>((resolve, reject) => {
      const timeout = setTimeout(() => {
        this.events.off('acked', check);
        reject(new Error(`uplink of robot ${this.options.robot} still has ${this.options.queue.stats().items} queued messages after ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        if (this.options.queue.stats().items > 0) return;
        clearTimeout(timeout);
        this.events.off('acked', check);
        resolve();
      };
      this.events.on('acked', check);
    });
  }

  /** Disconnects; queued messages stay in the queue for the next uplink. The queue is not closed. */
  async close(): Promise<void> {
    this.commitStaged();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.client.endAsync(true);
    if (this.acknowledgedIds.length > 0) this.removeAcknowledged();
  }

  private pump(): void {
    if (this.closed || !this.client.connected) return;
    while (this.inFlight.size < this.maxInFlight) {
      const wait = this.bucket.waitMs();
      if (wait > 0) {
        this.timer ??= setTimeout(() => {
          this.timer = null;
          this.pump();
        }, wait);
        return;
      }
      const item = this.nextItem();
      if (item === undefined) return;
      this.bucket.take();
      this.lastSentId = item.id;
      this.inFlight.add(item.id);
      this.client.publish(item.topic, item.payload, { qos: 1 }, (error) => this.onAck(item.id, error ?? null));
    }
  }

  private removeAcknowledged(): void {
    const ids = this.acknowledgedIds;
    this.acknowledgedIds = [];
    if (this.options.queue.isOpen()) this.options.queue.removeMany(ids);
    this.events.emit('acked');
    this.pump();
  }

  /** Returns the oldest queued item not yet published, reading the queue in batches. */
  private nextItem(): QueuedMessage | undefined {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      // Items below lastSentId can still be in flight after an abandoned publish reset it.
      while (this.batch.length > 0) {
        const item = this.batch.shift() as QueuedMessage;
        if (item.id > this.lastSentId && !this.inFlight.has(item.id) && !this.acknowledgedIds.includes(item.id)) return item;
      }
      this.batch = this.options.queue.peek(this.lastSentId, this.maxInFlight);
    }
    return undefined;
  }

  private onAck(id: number, error: Error | null): void {
    this.inFlight.delete(id);
    if (error === null) {
      this.acknowledgedIds.push(id);
      this.counts.acknowledged += 1;
      // PUBACKs that arrive together are removed in one transaction, with one sync.
      if (this.acknowledgedIds.length === 1) setImmediate(() => this.removeAcknowledged());
      return;
    } else if (reasonCodeOf(error) !== null) {
      this.options.queue.remove(id);
      this.counts.rejected += 1;
      this.log.error({ robot: this.options.robot, topic: this.topic, reasonCode: reasonCodeOf(error), error: error.message }, 'broker rejected a sample message; dropped it');
    } else {
      // The publish was abandoned (for example the client ended), so it is sent again from the queue.
      this.lastSentId = Math.min(this.lastSentId, id - 1);
      this.batch = [];
    }
    this.events.emit('acked');
    this.pump();
  }
}
