import { assertFleetId, fleetTopics, type Logger, type SampleRecord } from '@fieldloop/contracts';
import { DatasetStore, DatasetStoreError } from '@fieldloop/dataset';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { mqttClientOptions, type BrokerOptions } from './broker-options.ts';
import { CollectorState, type PendingSample } from './collector-state.ts';
import type { QueueSynchronous } from './outbound-queue.ts';
import { decodeFleetMessage, SampleCodecError, type FieldSample } from './sample-codec.ts';
import { silentLogger } from './silent-logger.ts';

export interface CollectorOptions {
  fleet: string;
  broker: BrokerOptions;
  /** Data set store directory; opened for each commit, so several collectors can share it. */
  storeDir: string;
  /** SQLite file of the collector's pending samples and de-duplication keys. */
  statePath: string;
  /** MQTT client id of the persistent session; default `fieldloop-collector-<fleet>`. Give each collector its own. */
  clientId?: string;
  /** Shared subscription group: collectors in one group split the samples (MQTT 5 brokers only). */
  shareGroup?: string;
  /** Commit a batch once this many samples are pending; default 500. */
  commitEvery?: number;
  /** Commit pending samples at least this often, in milliseconds; default 30,000. */
  commitIntervalMs?: number;
  /** Drop incomplete chunked samples after this many milliseconds; default 600,000. */
  chunkTimeoutMs?: number;
  synchronous?: QueueSynchronous;
  /** Sync the store's blob files before each commit (the store's default, true). False is for benchmarks: a power loss can then lose committed samples. */
  storeFsync?: boolean;
  /** Milliseconds that `start` waits for the broker to accept the connection and subscription; default 30,000. */
  startTimeoutMs?: number;
  log?: Logger;
}

/** One committed field batch. */
export interface FieldBatch {
  version: number;
  /** Samples new to the store, per robot. */
  perRobot: Record<string, number>;
  added: number;
}

export interface CollectorStats {
  /** MQTT messages handled, malformed ones included. */
  messages: number;
  accepted: number;
  duplicateSequence: number;
  duplicateContent: number;
  /** Malformed or invalid payloads, in total and per robot id (`unknown` when even the topic had none). */
  rejected: number;
  rejectedByRobot: Record<string, number>;
  committed: number;
  batches: FieldBatch[];
  pending: number;
}

const TOPIC_ROBOT = /^fieldloop\/[^/]+\/robots\/([^/]+)\/samples$/;
const LOGGED_REJECTIONS_PER_ROBOT = 5;
const STORE_ADD_CONCURRENCY = 32;

function isSampleNotFound(error: unknown): boolean {
  return error instanceof DatasetStoreError && error.code === 'sample-not-found';
}

function hasSample(store: DatasetStore, sampleId: string): boolean {
  try {
    return store.lineage(sampleId).length > 0;
  } catch (error) {
    if (isSampleNotFound(error)) return false;
    throw error;
  }
}

async function openStoreWithRetry(dir: string, fsync: boolean, attempts = 50): Promise<DatasetStore> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await DatasetStore.open(dir, { fsync });
    } catch (error) {
      const locked = error instanceof DatasetStoreError && error.code === 'locked';
      if (!locked || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Receives field samples from every robot of a fleet and commits them to a data set store as
 * field batches. Each message is checked and de-duplicated by (robot, boot, sequence) and by
 * sample id. It is written to the durable state before mqtt.js sends its PUBACK. Pending
 * samples go to the store as one new snapshot per batch: on `commitEvery`, on
 * `commitIntervalMs` and at close. Malformed messages are counted, logged with the robot id and
 * acknowledged, so the broker does not redeliver them.
 */
export class FleetCollector {
  private readonly options: CollectorOptions;
  private readonly client: MqttClient;
  private readonly state: CollectorState;
  private readonly log: Logger;
  private readonly commitEvery: number;
  private readonly counts: Omit<CollectorStats, 'pending' | 'batches'> & { batches: FieldBatch[] };
  private flushing: Promise<FieldBatch | null> = Promise.resolve(null);
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private pendingAtClose: number | null = null;
  /** Pending rows in the state, counted here so that messages need no count query. */
  private pendingSamples: number;
  private commitQueued = false;

  private constructor(options: CollectorOptions, client: MqttClient, state: CollectorState) {
    this.options = options;
    this.client = client;
    this.state = state;
    this.log = options.log ?? silentLogger;
    this.commitEvery = options.commitEvery ?? 500;
    this.pendingSamples = state.pendingCount();
    this.counts = { messages: 0, accepted: 0, duplicateSequence: 0, duplicateContent: 0, rejected: 0, rejectedByRobot: {}, committed: 0, batches: [] };
  }

  /** Connects, subscribes with QoS 1 and resolves once the broker granted the subscription. */
  static async start(options: CollectorOptions): Promise<FleetCollector> {
    assertFleetId('fleet', options.fleet);
    if (options.shareGroup !== undefined) assertFleetId('fleet', options.shareGroup);
    const state = new CollectorState({ path: options.statePath, synchronous: options.synchronous });
    const version = options.broker.protocolVersion ?? 5;
    const clientOptions = mqttClientOptions(options.broker, {
      clientId: options.clientId ?? `fieldloop-collector-${options.fleet}`,
      clean: false,
      ...(version === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      manualConnect: true,
    });
    const client = mqtt.connect(options.broker.url, clientOptions);
    const collector = new FleetCollector(options, client, state);
    client.handleMessage = (packet, done) => collector.handle(packet, done);
    const filter = options.shareGroup
      ? `$share/${options.shareGroup}/${fleetTopics.allSamples(options.fleet)}`
      : fleetTopics.allSamples(options.fleet);
    client.on('connect', (connack) => {
      // mqtt.js subscribes again by itself after a reconnect whose session the broker lost.
      collector.log.info({ broker: options.broker.url, sessionPresent: connack.sessionPresent, filter }, 'collector connected');
    });
    client.on('error', (error) => collector.log.warn({ broker: options.broker.url, error: error.message }, 'collector connection error; retrying'));
    const startTimeoutMs = options.startTimeoutMs ?? 30_000;
    await new Promise<void>((resolve, reject) => {
      const fail = (message: string, cause?: unknown): void => {
        clearTimeout(timeout);
        client.end(true);
        state.close();
        reject(new Error(message, { cause }));
      };
      // mqtt.js retries a refused connection without an error event, so the start needs its own limit.
      const timeout = setTimeout(
        () => fail(`collector could not connect to ${options.broker.url} within ${startTimeoutMs} ms; check the URL and that the broker runs`),
        startTimeoutMs,
      );
      const onError = (error: Error): void => fail(`collector could not connect to ${options.broker.url}: ${error.message}`, error);
      client.once('error', onError);
      client.once('connect', () => {
        client.off('error', onError);
        client.subscribe(filter, { qos: 1 }, (error, granted) => {
          const code = granted?.[0]?.qos;
          if (error || code === undefined || code >= 0x80) {
            fail(`broker ${options.broker.url} rejected the subscription to ${filter}: ${error?.message ?? `reason code ${code}`}`, error);
          } else {
            clearTimeout(timeout);
            resolve();
          }
        });
      });
      client.connect();
    });
    collector.timer = setInterval(() => {
      const expired = state.expireChunks(options.chunkTimeoutMs ?? 600_000);
      if (expired > 0) collector.log.warn({ expired }, 'dropped incomplete chunked samples after the chunk timeout');
      void collector.flush().catch((error: unknown) => collector.log.error({ error: (error as Error).message }, 'committing a field batch failed; will retry'));
    }, options.commitIntervalMs ?? 30_000);
    return collector;
  }

  stats(): CollectorStats {
    const pending = this.pendingAtClose ?? this.state.pendingCount();
    return { ...this.counts, rejectedByRobot: { ...this.counts.rejectedByRobot }, batches: [...this.counts.batches], pending };
  }

  /** Commits the pending samples as one field batch; resolves to null when nothing new was pending. */
  flush(): Promise<FieldBatch | null> {
    const next = this.flushing.catch(() => null).then(() => this.commitPending());
    this.flushing = next;
    return next;
  }

  /** Stops receiving, commits what is pending and closes the state. */
  async close(): Promise<FieldBatch | null> {
    if (this.closed) return null;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.client.endAsync(false);
    try {
      return await this.flush();
    } finally {
      this.pendingAtClose = this.state.pendingCount();
      this.state.close();
    }
  }

  private handle(packet: IPublishPacket, done: (error?: Error) => void): void {
    this.counts.messages += 1;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const topicRobot = TOPIC_ROBOT.exec(packet.topic)?.[1] ?? null;
    try {
      this.receive(topicRobot, payload);
    } catch (error) {
      if (error instanceof SampleCodecError || error instanceof RangeError) {
        this.reject(topicRobot ?? (error instanceof SampleCodecError ? error.robot : null), packet.topic, error.message);
      } else {
        // The message stays unacknowledged, so the broker redelivers it after a reconnect.
        this.log.error({ topic: packet.topic, robot: topicRobot, error: (error as Error).message }, 'storing a received sample failed');
        done(error as Error);
        return;
      }
    }
    done();
    if (this.pendingSamples >= this.commitEvery && !this.commitQueued) {
      this.commitQueued = true;
      void this.flush()
        .catch((error: unknown) => this.log.error({ error: (error as Error).message }, 'committing a field batch failed; will retry'))
        .finally(() => (this.commitQueued = false));
    }
  }

  private receive(topicRobot: string | null, payload: Buffer): void {
    const decoded = decodeFleetMessage(payload);
    const robot = decoded.kind === 'sample' ? decoded.sample.robot : decoded.chunk.robot;
    if (robot !== topicRobot) {
      throw new SampleCodecError('bad-record', `message names robot ${robot} but came on the topic of robot ${String(topicRobot)}`, topicRobot);
    }
    let sample: FieldSample;
    let sampleBytes = payload;
    if (decoded.kind === 'chunk') {
      const outcome = this.state.receiveChunk(decoded.chunk);
      if (outcome.kind === 'duplicate-sequence') {
        this.counts.duplicateSequence += 1;
        return;
      }
      if (outcome.kind === 'stored') return;
      const { chunk } = decoded;
      try {
        const whole = decodeFleetMessage(outcome.payload);
        if (whole.kind !== 'sample' || whole.sample.robot !== chunk.robot || whole.sample.bootId !== chunk.bootId || whole.sample.sequence !== chunk.sequence) {
          throw new SampleCodecError('bad-record', `chunks of ${chunk.robot} sequence ${chunk.sequence} do not reassemble into that sample`, chunk.robot);
        }
        sample = whole.sample;
      } catch (error) {
        this.state.discardChunks(chunk.robot, chunk.bootId, chunk.sequence);
        throw error;
      }
      sampleBytes = outcome.payload;
    } else {
      sample = decoded.sample;
    }
    const outcome = this.state.receiveSample(sample.robot, sample.bootId, sample.sequence, sample.record.id, sampleBytes);
    if (outcome === 'accepted') {
      this.counts.accepted += 1;
      this.pendingSamples += 1;
    }
    else if (outcome === 'duplicate-sequence') this.counts.duplicateSequence += 1;
    else this.counts.duplicateContent += 1;
  }

  private reject(robot: string | null, topic: string, reason: string): void {
    const key = robot ?? 'unknown';
    const count = (this.counts.rejectedByRobot[key] ?? 0) + 1;
    this.counts.rejectedByRobot[key] = count;
    this.counts.rejected += 1;
    // The first few rejections per robot are logged in full, then one line per thousand.
    if (count <= LOGGED_REJECTIONS_PER_ROBOT || count % 1000 === 0) {
      this.log.warn({ robot: key, topic, rejected: count, reason }, 'rejected a malformed sample message');
    }
  }

  private async commitPending(): Promise<FieldBatch | null> {
    const rows = this.state.pending(Number.MAX_SAFE_INTEGER);
    if (rows.length === 0) return null;
    const store = await openStoreWithRetry(this.options.storeDir, this.options.storeFsync ?? true);
    try {
      const perRobot: Record<string, number> = {};
      const added: string[] = [];
      const settled = rows.map((row) => row.rowId);
      // A crash after an earlier commit but before its pending rows were removed leaves samples that the store has.
      const candidates = rows.filter((row) => !hasSample(store, row.sampleId));
      const robots = new Map<string, number>();
      for (const row of candidates) robots.set(row.robot, (robots.get(row.robot) ?? 0) + 1);
      const note = `fieldloop collect: field batch of ${candidates.length} samples from ${[...robots].map(([robot, n]) => `${robot} (${n})`).join(', ')}`;
      const builder = store.beginSnapshot({ note });
      try {
        const addOne = async (row: PendingSample): Promise<void> => {
          const decoded = decodeFleetMessage(row.payload);
          if (decoded.kind !== 'sample') return;
          const record: SampleRecord = decoded.sample.record;
          try {
            await builder.add(record, { image: decoded.sample.image, input: decoded.sample.input });
          } catch (error) {
            if (!(error instanceof DatasetStoreError) || (error.code !== 'invalid-sample' && error.code !== 'sample-conflict')) throw error;
            this.reject(row.robot, fleetTopics.samples(this.options.fleet, row.robot), error.message);
            return;
          }
          added.push(record.id);
          perRobot[row.robot] = (perRobot[row.robot] ?? 0) + 1;
        };
        // The store writes and syncs each blob file, so adds run in groups to overlap the syncs.
        for (let start = 0; start < candidates.length; start += STORE_ADD_CONCURRENCY) {
          await Promise.all(candidates.slice(start, start + STORE_ADD_CONCURRENCY).map(addOne));
        }
        if (added.length === 0) {
          await builder.abort();
          this.state.settle(settled, [], null);
          this.pendingSamples = this.state.pendingCount();
          return null;
        }
      } catch (error) {
        await builder.abort();
        throw error;
      }
      const manifest = await builder.commit();
      const batch: FieldBatch = { version: manifest.version, perRobot, added: manifest.added };
      this.state.settle(settled, added, { version: manifest.version, perRobot });
      this.pendingSamples = this.state.pendingCount();
      this.counts.committed += added.length;
      this.counts.batches.push(batch);
      this.log.info({ version: manifest.version, perRobot, added: manifest.added }, 'committed a field batch');
      return batch;
    } finally {
      await store.close();
    }
  }
}
