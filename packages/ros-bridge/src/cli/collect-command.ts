import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { assertFleetId, type CliCommand, type CliResult } from '@fieldloop/contracts';
import { DatasetStore, DatasetStoreError } from '@fieldloop/dataset';
import type { BrokerOptions } from '../fleet/broker-options.ts';
import { FleetCollector, type CollectorStats } from '../fleet/collector.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from '../fleet/embedded-broker.ts';
import { BROKER_CLI_OPTIONS, brokerFromCli, numberOption, stringOption, waitForStop } from './broker-cli-options.ts';

function renderText(broker: string, stats: CollectorStats, stopped: string): string {
  const lines = [
    `collected from ${broker} until ${stopped}: ${stats.messages} messages, ${stats.accepted} samples accepted, ` +
      `${stats.duplicateSequence + stats.duplicateContent} duplicates dropped, ${stats.rejected} rejected`,
  ];
  if (stats.recovered > 0) lines.push(`  ${stats.recovered} samples received by an earlier run were pending in the state file and went into these batches`);
  for (const batch of stats.batches) {
    const robots = Object.entries(batch.perRobot).map(([robot, n]) => `${robot} ${n}`).join(', ');
    lines.push(`  snapshot v${batch.version}: ${batch.added} new samples (${robots})`);
  }
  for (const [robot, n] of Object.entries(stats.rejectedByRobot)) lines.push(`  rejected from ${robot}: ${n}`);
  return lines.join('\n');
}

/** `fieldloop collect`: receives field samples over MQTT and commits them to a data set store. */
export const collectCommand: CliCommand = {
  name: 'collect',
  summary: 'receive field samples from robots over MQTT and commit them to a data set store as field batches',
  description:
    'Subscribes to every robot sample topic of a fleet with QoS 1, rejects and counts malformed messages, drops ' +
    'duplicates by (robot, boot, sequence) and by sample id, and commits new samples as snapshots of --store. A ' +
    'sample is acknowledged to the broker only once it is in the durable --state file, so a crash loses nothing. ' +
    'Without --broker it starts an embedded aedes broker (MQTT 3.1.1) on 127.0.0.1:1883 (--port) and logs its URL; ' +
    'bridges reach it with --broker mqtt://127.0.0.1:1883 and fall back to MQTT 3.1.1 by themselves.',
  arguments: '',
  options: [
    { flags: '--store <dir>', description: 'data set store directory (created when missing)', required: true },
    { flags: '--state <file>', description: 'SQLite file of pending samples and de-duplication keys, with its journal <file>.intake and lock <file>.lock; one per collector; default <store>.collector.db' },
    { flags: '--broker <url>', description: 'mqtt:// or mqtts:// URL of the broker; without it an embedded aedes broker is started' },
    { flags: '--port <n>', description: 'port of the embedded broker on 127.0.0.1; 0 picks a free one', defaultValue: '1883' },
    { flags: '--client-id <id>', description: 'MQTT client id of the persistent session; give each collector its own' },
    { flags: '--share-group <name>', description: 'shared subscription group, so several collectors split the samples (MQTT 5 brokers)' },
    { flags: '--connections <n>', description: 'MQTT connections that receive samples; above 1 they form a shared subscription (MQTT 5) and share state syncs', defaultValue: '1' },
    { flags: '--commit-every <n>', description: 'commit a batch once this many samples are pending', defaultValue: '500' },
    { flags: '--commit-interval <seconds>', description: 'commit pending samples at least this often', defaultValue: '30' },
    { flags: '--duration <seconds>', description: 'stop after this many seconds; 0 runs until SIGINT or SIGTERM', defaultValue: '0' },
    ...BROKER_CLI_OPTIONS,
  ],
  async run(_args, options, context): Promise<CliResult> {
    const store = stringOption(options, 'store');
    if (store === null) throw new Error('collect needs --store DIR');
    const fleet = stringOption(options, 'fleet') ?? 'default';
    const statePath = stringOption(options, 'state') ?? `${store.replace(/\/+$/, '')}.collector.db`;
    const port = numberOption(options, 'port', 1883, 0, 65535);
    const connections = numberOption(options, 'connections', 1, 1);
    const commitEvery = numberOption(options, 'commitEvery', 500, 1);
    const commitIntervalMs = numberOption(options, 'commitInterval', 30, 0.01) * 1000;
    const duration = numberOption(options, 'duration', 0);
    const brokerUrl = stringOption(options, 'broker');
    // An external broker's options are checked before anything is opened. The embedded broker's are fixed.
    let broker: BrokerOptions | null = brokerUrl === null ? null : brokerFromCli(brokerUrl, options);
    assertFleetId('fleet', fleet);
    if (broker === null) {
      // The embedded broker's URL is not known yet, but the other broker options are checked now.
      const version = brokerFromCli('mqtt://127.0.0.1:1883', options).protocolVersion;
      if (version === 5) throw new Error('--mqtt-version 5 needs --broker: the embedded aedes broker speaks MQTT 3.1.1 only; drop the option or use 4');
    }
    // A store that cannot be opened fails now, before the collector acknowledges samples that it could not commit.
    try {
      await (await DatasetStore.open(store)).close();
    } catch (error) {
      // A store that another writer holds is a store, and the collector waits for its lock at each commit.
      if (!(error instanceof DatasetStoreError && error.code === 'locked')) throw error;
    }
    mkdirSync(dirname(resolve(statePath)), { recursive: true });
    let embedded: EmbeddedBroker | null = null;
    if (broker === null) {
      embedded = await startEmbeddedBroker(port);
      broker = brokerFromCli(embedded.url, { ...options, mqttVersion: '4' });
      context.log.info({ url: embedded.url, broker: 'aedes' }, 'no --broker given: started the embedded aedes broker');
    }
    const url = broker.url;
    try {
      const shareGroup = stringOption(options, 'shareGroup');
      const clientId = stringOption(options, 'clientId');
      const collector = await FleetCollector.start({
        fleet,
        broker,
        storeDir: store,
        statePath,
        ...(shareGroup ? { shareGroup } : {}),
        ...(clientId ? { clientId } : {}),
        connections,
        commitEvery,
        commitIntervalMs,
        // A broker that cannot be reached ends the run after --duration at the latest.
        startTimeoutMs: duration > 0 ? Math.min(30_000, duration * 1000) : 30_000,
        log: context.log,
      });
      context.log.info({ url, fleet, store }, 'collecting');
      const stopped = await waitForStop(duration);
      await collector.close();
      const stats = collector.stats();
      return { exitCode: 0, summary: { broker: url, fleet, store, stopped, ...stats }, text: renderText(url, stats, stopped) };
    } finally {
      await embedded?.close();
    }
  },
};
