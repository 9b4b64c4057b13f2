import { assertFleetId, fleetTopics, type Logger, type SampleRecord } from '@fieldloop/contracts';
import { DatasetStore, DatasetStoreError, StoredSampleIds, type DatasetStoreOptions, type FileBlob } from '@fieldloop/dataset';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { BrokerOptions } from './broker-options.ts';
import { connectCollector } from './collector-connection.ts';
import { CollectorState, type PendingSample, type ReceiveOutcome } from './collector-state.ts';
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
  /**
   * MQTT connections that receive samples; default 1. More than one need MQTT 5 and subscribe as
   * a shared subscription (`shareGroup`, or a group named after the client id), so each message
   * reaches one of them. Each connection reads on while up to 256 of its messages wait for their
   * state commit and PUBACK, so one connection already fills a group commit.
   * NOTE: mosquitto 2.0.11 drops shared subscriptions of persistent sessions when it restarts,
   * yet reports the sessions as present. The collector subscribes again on every reconnect, but
   * messages that reach the broker before that are lost, so keep 1 where the broker may restart.
   */
  connections?: number;
  /** Commit a batch once this many samples are pending; default 500. */
  commitEvery?: number;
  /** Commit pending samples at least this often, in milliseconds; default 30,000. */
  commitIntervalMs?: number;
  /** Drop incomplete chunked samples after this many milliseconds; default 600,000. */
  chunkTimeoutMs?: number;
  synchronous?: QueueSynchronous;
  /** Sync the store's pack file before each commit (the store's default, true). False is for benchmarks: a power loss can then lose committed samples. */
  storeFsync?: boolean;
  /** Milliseconds that `start` waits for the broker to accept the connection and subscription; default 30,000. */
  startTimeoutMs?: number;
  /** Bytes of received payloads kept in memory until their field batch; default 64 MiB (`CollectorStateOptions.payloadCacheBytes`). */
  payloadCacheBytes?: number;
  /** Size from which the store takes a journal segment in as a pack instead of copying its payloads; default 8 MiB (`CollectorStateOptions.minAdoptedSegmentBytes`). */
  minAdoptedSegmentBytes?: number;
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
  /** Samples that an earlier run received and left pending in the state file; the batches of this run commit them. */
  recovered: number;
}

/** The read-only view of the store's sample ids, or null while the store has no index. */
interface StoredView {
  ids: StoredSampleIds | null;
}

/** A received message waiting for the next state commit, and the callback that sends its PUBACK. */
interface IntakeMessage {
  packet: IPublishPacket;
  acknowledge: (error?: Error) => void;
}

/** Result of recording one message in the state, counted only after the state commit succeeded. */
type IntakeOutcome =
  | { kind: ReceiveOutcome | 'chunk-stored' }
  | { kind: 'rejected'; robot: string | null; topic: string; reason: string }
  | { kind: 'failed'; error: Error };

const TOPIC_ROBOT = /^fieldloop\/[^/]+\/robots\/([^/]+)\/samples$/;
const LOGGED_REJECTIONS_PER_ROBOT = 5;
/** Maximum wait between background attempts to commit a field batch after failures. */
const MAX_COMMIT_BACKOFF_MS = 60_000;
const STORE_ADD_CONCURRENCY = 32;

async function openStoreWithRetry(dir: string, options: DatasetStoreOptions, attempts = 50): Promise<DatasetStore> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await DatasetStore.open(dir, options);
    } catch (error) {
      const locked = error instanceof DatasetStoreError && error.code === 'locked';
      if (!locked || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Returns the place of a part of a payload in the file that contains the payload at `file.offset`. */
function inFile(file: { path: string; offset: number }, payload: Uint8Array, part: Uint8Array): FileBlob {
  return { path: file.path, offset: file.offset + (part.byteOffset - payload.byteOffset), length: part.length };
}

/**
 * Receives field samples from every robot of a fleet and commits them to a data set store as
 * field batches. Each message is checked and de-duplicated by (robot, boot, sequence) and by
 * sample id. Its PUBACK is sent only after its state commit and a sync of the state's WAL and
 * intake journal that covers it. Messages that arrive in the same event-loop turn, on any of the
 * collector's connections, share one state commit, and commits made while a sync runs share the
 * next sync (group commit). The sync runs on the libuv thread pool. Pending samples go to the store as one
 * new snapshot per batch: on `commitEvery`, on `commitIntervalMs` and at close. Malformed messages are
 * counted, logged with the robot id and acknowledged, so the broker does not redeliver them.
 */
export class FleetCollector {
  private readonly options: CollectorOptions;
  private clients: MqttClient[] = [];
  private intake: IntakeMessage[] = [];
  private readonly state: CollectorState;
  private readonly log: Logger;
  private readonly commitEvery: number;
  private readonly counts: Omit<CollectorStats, 'pending' | 'batches' | 'recovered'> & { batches: FieldBatch[] };
  private readonly recovered: number;
  private flushing: Promise<FieldBatch | null> = Promise.resolve(null);
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private pendingAtClose: number | null = null;
  /** Pending rows in the state, counted here so that messages need no count query. */
  private pendingSamples: number;
  private commitQueued = false;
  /** Failed background commits in a row, and the time before which no new one starts. */
  private commitFailures = 0;
  private commitRetryAt = 0;
  /** Acknowledgements of committed message groups, run one after another so PUBACKs keep the order of arrival. */
  private acknowledging: Promise<void> = Promise.resolve();
  /** State commits of message groups so far, and how many of them the last finished sync covered. */
  private intakeCommits = 0;
  private syncedCommits = 0;
  /** Read-only view of the store's sample ids for de-duplication by content, shared with the state. */
  private readonly stored: StoredView;

  private constructor(options: CollectorOptions, state: CollectorState, stored: StoredView) {
    this.options = options;
    this.state = state;
    this.stored = stored;
    this.log = options.log ?? silentLogger;
    this.commitEvery = options.commitEvery ?? 500;
    this.pendingSamples = state.pendingCount();
    this.recovered = this.pendingSamples;
    this.counts = { messages: 0, accepted: 0, duplicateSequence: 0, duplicateContent: 0, rejected: 0, rejectedByRobot: {}, committed: 0, batches: [] };
  }

  /** Connects, subscribes with QoS 1 and resolves once the broker granted the subscription on every connection. */
  static async start(options: CollectorOptions): Promise<FleetCollector> {
    assertFleetId('fleet', options.fleet);
    if (options.shareGroup !== undefined) assertFleetId('fleet', options.shareGroup);
    const version = options.broker.protocolVersion ?? 5;
    const connections = options.connections ?? 1;
    if (!Number.isSafeInteger(connections) || connections < 1) {
      throw new RangeError(`collector connections must be a positive integer, got ${connections}`);
    }
    if (connections > 1 && version !== 5) {
      throw new RangeError(`collector connections ${connections} need MQTT 5 shared subscriptions; use 1 with protocol version ${version}`);
    }
    const clientId = options.clientId ?? `fieldloop-collector-${options.fleet}`;
    // A share name must not contain '/', '+' or '#'.
    const shareGroup = options.shareGroup ?? (connections > 1 ? clientId.replace(/[^A-Za-z0-9_-]/g, '_') : undefined);
    const filter = shareGroup ? `$share/${shareGroup}/${fleetTopics.allSamples(options.fleet)}` : fleetTopics.allSamples(options.fleet);
    // The state looks samples up in the store's index, so it keeps no list of its own.
    const stored: StoredView = { ids: null };
    const state = new CollectorState({
      path: options.statePath,
      synchronous: options.synchronous,
      payloadCacheBytes: options.payloadCacheBytes,
      minAdoptedSegmentBytes: options.minAdoptedSegmentBytes,
      isStored: (sampleId) => stored.ids?.has(sampleId) ?? false,
    });
    const collector = new FleetCollector(options, state, stored);
    if (collector.recovered > 0) {
      collector.log.info({ statePath: options.statePath, pending: collector.recovered }, 'samples received by an earlier run are pending; the next field batch commits them');
    }
    if (state.droppedAtOpen > 0) {
      collector.log.warn(
        { statePath: options.statePath, dropped: state.droppedAtOpen },
        'dropped pending samples whose intake journal records a crash lost; the broker redelivers them, because they were never acknowledged',
      );
    }
    const connect = (id: string): ReturnType<typeof connectCollector> =>
      connectCollector({
        broker: options.broker,
        clientId: id,
        filter,
        startTimeoutMs: options.startTimeoutMs ?? 30_000,
        handleMessage: (packet, acknowledge) => collector.handle(packet, acknowledge),
        log: collector.log,
      });
    try {
      collector.openStoredIds();
      // The first connection keeps the plain client id, so a collector started with 1 connection before keeps its session.
      const first = await connect(clientId);
      collector.clients.push(first.client);
      const rest = await Promise.allSettled(Array.from({ length: connections - 1 }, (_, index) => connect(`${clientId}-${index + 1}`)));
      for (const result of rest) if (result.status === 'fulfilled') collector.clients.push(result.value.client);
      const failed = rest.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (error) {
      for (const client of collector.clients) client.end(true);
      state.close();
      stored.ids?.close();
      throw error;
    }
    collector.timer = setInterval(() => {
      const expired = state.expireChunks(options.chunkTimeoutMs ?? 600_000);
      if (expired > 0) collector.log.warn({ expired }, 'dropped incomplete chunked samples after the chunk timeout');
      collector.commitInBackground();
    }, options.commitIntervalMs ?? 30_000);
    return collector;
  }

  stats(): CollectorStats {
    const pending = this.pendingAtClose ?? this.pendingSamples;
    return { ...this.counts, rejectedByRobot: { ...this.counts.rejectedByRobot }, batches: [...this.counts.batches], pending, recovered: this.recovered };
  }

  /** Commits the pending samples as one field batch; resolves to null when nothing new was pending. */
  flush(): Promise<FieldBatch | null> {
    const next = this.flushing.catch(() => null).then(() => this.commitPending());
    this.flushing = next;
    return next;
  }

  /**
   * Opens the read-only view of the store's sample ids once the store has an index. Until then
   * the store has no samples, and a store that another process is creating counts as empty.
   */
  private openStoredIds(): void {
    if (this.closed || this.stored.ids !== null) return;
    try {
      this.stored.ids = StoredSampleIds.open(this.options.storeDir);
    } catch (error) {
      if (!(error instanceof DatasetStoreError) || error.code !== 'not-a-store') throw error;
    }
  }

  /** Stops receiving, commits what is pending and closes the state. */
  async close(): Promise<FieldBatch | null> {
    if (this.closed) return null;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    // Messages received so far are stored and acknowledged while the connections are still open.
    this.storeIntake();
    await this.acknowledging;
    await Promise.all(this.clients.map((client) => client.endAsync(false)));
    // Messages that arrived while the connections ended go into this batch unacknowledged, so the broker redelivers them as duplicates.
    this.storeIntake();
    await this.acknowledging;
    // The last batch needs no lookups, and without this reader the store's last connection removes its write-ahead log.
    this.stored.ids?.close();
    this.stored.ids = null;
    try {
      return await this.flush();
    } finally {
      this.pendingAtClose = this.state.pendingCount();
      this.state.close();
    }
  }

  private handle(packet: IPublishPacket, acknowledge: (error?: Error) => void): void {
    this.intake.push({ packet, acknowledge });
    if (this.intake.length === 1) setImmediate(() => this.storeIntake());
  }

  /** Records every message handed over since the last call in one state commit, and queues their acknowledgement. */
  private storeIntake(): void {
    const messages = this.intake;
    if (messages.length === 0) return;
    this.intake = [];
    let outcomes: IntakeOutcome[];
    const record = (): IntakeOutcome[] => this.state.transaction(() => messages.map((message) => this.receiveMessage(message.packet)));
    try {
      // The store's index is read in one transaction for the whole group, which saves a lock round per message.
      outcomes = this.stored.ids === null ? record() : this.stored.ids.reading(record);
    } catch (error) {
      // The messages stay unacknowledged, so the broker redelivers them after a reconnect.
      this.log.error({ messages: messages.length, error: (error as Error).message }, 'committing received samples to the collector state failed');
      for (const message of messages) message.acknowledge(error as Error);
      return;
    }
    this.intakeCommits += 1;
    const commit = this.intakeCommits;
    this.acknowledging = this.acknowledging.then(() => this.acknowledgeDurable(messages, outcomes, commit));
    // A field batch may take rows whose sync is still running, because a sample lost from the state is redelivered and then found in the store.
    this.pendingSamples += outcomes.filter((outcome) => outcome.kind === 'accepted').length;
    if (this.pendingSamples >= this.commitEvery) this.commitInBackground();
  }

  /**
   * Commits the pending samples unless a commit is already queued or a failed one is backing off.
   * After a failure the next attempt waits 1 s, doubling up to 60 s, so a store that keeps failing
   * (a full disk, a lock held elsewhere) is not retried for every message group. `close` still
   * makes a last attempt.
   */
  private commitInBackground(): void {
    if (this.commitQueued || Date.now() < this.commitRetryAt) return;
    this.commitQueued = true;
    void this.flush()
      .then(() => {
        this.commitFailures = 0;
        this.commitRetryAt = 0;
      })
      .catch((error: unknown) => {
        this.commitFailures += 1;
        const retryInMs = Math.min(MAX_COMMIT_BACKOFF_MS, 1000 * 2 ** (this.commitFailures - 1));
        this.commitRetryAt = Date.now() + retryInMs;
        this.log.error({ error: (error as Error).message, failures: this.commitFailures, retryInMs }, 'committing a field batch failed; will retry');
      })
      .finally(() => (this.commitQueued = false));
  }

  /**
   * Counts and acknowledges one committed message group once a WAL sync covers its commit. One
   * sync covers every group committed before it started, so groups that commit during a sync share
   * the next one.
   */
  private async acknowledgeDurable(messages: IntakeMessage[], outcomes: IntakeOutcome[], commit: number): Promise<void> {
    if (commit > this.syncedCommits) {
      const covered = this.intakeCommits;
      try {
        await this.state.sync();
      } catch (error) {
        // The rows are committed but may not survive a power loss, so the broker redelivers these messages after a reconnect.
        this.log.error({ messages: messages.length, error: (error as Error).message }, 'syncing received samples to the collector state failed');
        for (const outcome of outcomes) this.count(outcome);
        for (const message of messages) message.acknowledge(error as Error);
        return;
      }
      this.syncedCommits = Math.max(this.syncedCommits, covered);
    }
    messages.forEach((message, index) => {
      const outcome = outcomes[index] as IntakeOutcome;
      this.count(outcome);
      if (outcome.kind === 'failed') message.acknowledge(outcome.error);
      else message.acknowledge();
    });
  }

  /** Checks one message and records it in the state, inside the caller's transaction. */
  private receiveMessage(packet: IPublishPacket): IntakeOutcome {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const topicRobot = TOPIC_ROBOT.exec(packet.topic)?.[1] ?? null;
    try {
      return { kind: this.receive(topicRobot, payload) };
    } catch (error) {
      if (error instanceof SampleCodecError || error instanceof RangeError) {
        return { kind: 'rejected', robot: topicRobot ?? (error instanceof SampleCodecError ? error.robot : null), topic: packet.topic, reason: error.message };
      }
      // The message stays unacknowledged, so the broker redelivers it after a reconnect.
      this.log.error({ topic: packet.topic, robot: topicRobot, error: (error as Error).message }, 'storing a received sample failed');
      return { kind: 'failed', error: error as Error };
    }
  }

  private count(outcome: IntakeOutcome): void {
    this.counts.messages += 1;
    switch (outcome.kind) {
      case 'accepted':
        this.counts.accepted += 1;
        break;
      case 'duplicate-sequence':
        this.counts.duplicateSequence += 1;
        break;
      case 'duplicate-content':
        this.counts.duplicateContent += 1;
        break;
      case 'rejected':
        this.reject(outcome.robot, outcome.topic, outcome.reason);
        break;
      default:
        break;
    }
  }

  private receive(topicRobot: string | null, payload: Buffer): ReceiveOutcome | 'chunk-stored' {
    const decoded = decodeFleetMessage(payload);
    const robot = decoded.kind === 'sample' ? decoded.sample.robot : decoded.chunk.robot;
    if (robot !== topicRobot) {
      throw new SampleCodecError('bad-record', `message names robot ${robot} but came on the topic of robot ${String(topicRobot)}`, topicRobot);
    }
    let sample: FieldSample;
    let sampleBytes = payload;
    let reassembled = false;
    if (decoded.kind === 'chunk') {
      const outcome = this.state.receiveChunk(decoded.chunk);
      if (outcome.kind === 'duplicate-sequence') return 'duplicate-sequence';
      if (outcome.kind === 'stored') return 'chunk-stored';
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
      reassembled = true;
    } else {
      sample = decoded.sample;
    }
    return this.state.receiveSample(sample.robot, sample.bootId, sample.sequence, sample.record.id, sampleBytes, reassembled);
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
    // A field batch goes into one pack file, so its commit syncs one file instead of two per sample.
    const store = await openStoreWithRetry(this.options.storeDir, {
      fsync: this.options.storeFsync ?? true,
      packBlobs: true,
      log: this.log,
    });
    try {
      const perRobot: Record<string, number> = {};
      const added: string[] = [];
      const settled = rows.map((row) => row.rowId);
      // A crash after an earlier commit but before its pending rows were removed leaves samples that the store has.
      const candidates = store.reading(() => rows.filter((row) => !store.hasSample(row.sampleId)));
      const robots = new Map<string, number>();
      for (const row of candidates) robots.set(row.robot, (robots.get(row.robot) ?? 0) + 1);
      const note = `fieldloop collect: field batch of ${candidates.length} samples from ${[...robots].map(([robot, n]) => `${robot} (${n})`).join(', ')}`;
      const builder = store.beginSnapshot({ note });
      try {
        const addOne = async (row: PendingSample): Promise<void> => {
          // `receive` checked both blob hashes and the sample id when the message arrived.
          const decoded = decodeFleetMessage(row.payload, { checkHashes: false });
          if (decoded.kind !== 'sample') return;
          const record: SampleRecord = decoded.sample.record;
          const { image, input } = decoded.sample;
          try {
            if (row.verified) {
              // The bytes were checked on arrival, so the store need not hash them again. Blobs in
              // a sealed journal segment are staged from there, so the store can take the segment
              // in as a pack instead of writing the bytes a second time.
              const verifiedSha256 = { image: record.imageSha256, input: record.inputSha256 };
              const blobs = row.file === null ? { image, input } : { image: inFile(row.file, row.payload, image), input: inFile(row.file, row.payload, input) };
              await builder.add(record, blobs, { verifiedSha256 });
            } else {
              await builder.add(record, { image, input });
            }
          } catch (error) {
            if (!(error instanceof DatasetStoreError) || (error.code !== 'invalid-sample' && error.code !== 'sample-conflict')) throw error;
            this.reject(row.robot, fleetTopics.samples(this.options.fleet, row.robot), error.message);
            return;
          }
          added.push(record.id);
          perRobot[row.robot] = (perRobot[row.robot] ?? 0) + 1;
        };
        // Adds run in groups, so that the store's checks for loose blob files overlap. Each add
        // makes its index lookups before its first await, so one read transaction covers a group's.
        for (let start = 0; start < candidates.length; start += STORE_ADD_CONCURRENCY) {
          const group = candidates.slice(start, start + STORE_ADD_CONCURRENCY);
          await Promise.all(store.reading(() => group.map(addOne)));
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
      this.openStoredIds();
      const batch: FieldBatch = { version: manifest.version, perRobot, added: manifest.added };
      this.state.settle(settled, added, { version: manifest.version, perRobot });
      this.pendingSamples = this.state.pendingCount();
      await this.state.sync();
      this.counts.committed += added.length;
      this.counts.batches.push(batch);
      this.log.info({ version: manifest.version, perRobot, added: manifest.added }, 'committed a field batch');
      return batch;
    } finally {
      await store.close();
    }
  }
}
