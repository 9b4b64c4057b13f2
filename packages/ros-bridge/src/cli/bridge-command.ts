import { existsSync } from 'node:fs';
import { assertFleetId, type CliCommand, type CliResult } from '@fieldloop/contracts';
import { ReplayProgressSink } from '../bridge/replay-progress.ts';
import { runBridge } from '../bridge/run-bridge.ts';
import { checkScenarioTags, TaggingSink } from '../bridge/tagging-sink.ts';
import { MqttUplink } from '../fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../fleet/outbound-queue.ts';
import { loadMapping } from '../mapping/load-mapping.ts';
import { BROKER_CLI_OPTIONS, brokerFromCli, numberOption, stringOption, waitForStop } from './broker-cli-options.ts';

/** `fieldloop bridge`: turns live ROS 2 topics, or a replayed recording, into samples sent over MQTT. */
export const bridgeCommand: CliCommand = {
  name: 'bridge',
  summary: 'send samples from live ROS 2 topics, or from a replayed recording, to the fleet broker over MQTT',
  description:
    'Maps topics to samples with the same mapping file and time matching as ingest, queues each sample in a ' +
    'durable queue (an append-only segment log) and publishes it with QoS 1 to the robot sample topic, removing it at the broker PUBACK. ' +
    'Live capture needs rclnodejs and ROS 2; without them pass --replay to read a recording instead. The summary ' +
    'says which source was used. Samples still queued at exit are sent by the next run with the same --queue. ' +
    'A replay stores how many of its samples are queued in <queue>.replay.json, so running the same recording and ' +
    'mapping again with that queue queues only the rest; delete that file to queue them all again.',
  arguments: '',
  options: [
    { flags: '--robot <id>', description: 'robot id: letters, digits, - and _', required: true },
    { flags: '--mapping <file>', description: 'YAML or JSON mapping from topics to samples, as for ingest', required: true },
    { flags: '--replay <path>', description: 'recording to replay in place of live ROS 2 topics' },
    { flags: '--broker <url>', description: 'mqtt:// or mqtts:// URL of the broker', defaultValue: 'mqtt://127.0.0.1:1883' },
    { flags: '--queue <path>', description: 'directory of the outbound queue; a SQLite queue file of an earlier version at this path is imported; default fieldloop-queue-<robot>.db, which is a directory' },
    { flags: '--max-queue-mb <n>', description: 'queue bound in MiB; past it the oldest samples are dropped and counted', defaultValue: '1024' },
    { flags: '--rate <n>', description: 'MQTT messages published per second at most, replays after a reconnect included', defaultValue: '200' },
    { flags: '--max-payload-kb <n>', description: 'MQTT payload size in KiB above which samples are sent in chunks', defaultValue: '256' },
    { flags: '--drain-timeout <seconds>', description: 'time to wait at the end for queued samples to be acknowledged', defaultValue: '30' },
    { flags: '--duration <seconds>', description: 'stop live capture or a replay after this many seconds; 0 runs until the replay ends, SIGINT or SIGTERM', defaultValue: '0' },
    { flags: '--msg-path <dir>', description: 'directory of <package>/msg/<Type>.msg definitions (repeatable)', repeatable: true, defaultValue: [] },
    {
      flags: '--tag <tag>',
      description: 'scenario tag added to every sample, such as field or robot:rc1 (repeatable); tags are part of the sample id',
      repeatable: true,
      defaultValue: [],
    },
    ...BROKER_CLI_OPTIONS,
  ],
  async run(_args, options, context): Promise<CliResult> {
    const robot = stringOption(options, 'robot');
    const mappingPath = stringOption(options, 'mapping');
    if (robot === null || mappingPath === null) throw new Error('bridge needs --robot ID and --mapping FILE');
    // Every option is checked before the queue directory is created, so a typo leaves nothing behind.
    assertFleetId('robot', robot);
    const fleet = stringOption(options, 'fleet') ?? 'default';
    assertFleetId('fleet', fleet);
    const url = stringOption(options, 'broker') ?? 'mqtt://127.0.0.1:1883';
    const broker = brokerFromCli(url, options);
    const maxBytes = Math.round(numberOption(options, 'maxQueueMb', 1024, 1) * 1024 * 1024);
    const maxMessagesPerSecond = numberOption(options, 'rate', 200, 0.001);
    const maxPayloadBytes = Math.round(numberOption(options, 'maxPayloadKb', 256, 1) * 1024);
    const drainSeconds = numberOption(options, 'drainTimeout', 30);
    const duration = numberOption(options, 'duration', 0);
    const replay = stringOption(options, 'replay');
    if (replay !== null && !existsSync(replay)) {
      throw new Error(`--replay ${replay} does not exist; give the path of a recording (an MCAP or SQLite3 file, a rosbag2 folder or a ROS 1 bag)`);
    }
    const tags = (options.tag as string[] | undefined) ?? [];
    checkScenarioTags(tags);
    const mapping = await loadMapping(mappingPath);
    const queuePath = stringOption(options, 'queue') ?? `fieldloop-queue-${robot}.db`;
    const queue = OutboundQueue.open({ path: queuePath, maxBytes, log: context.log });
    const uplink = new MqttUplink({ fleet, robot, broker, queue, maxMessagesPerSecond, maxPayloadBytes, log: context.log });
    const tagged = tags.length === 0 ? uplink : new TaggingSink(tags, uplink);
    const progress =
      replay === null ? null : new ReplayProgressSink({ path: `${queuePath.replace(/\/+$/, '')}.replay.json`, recording: replay, mapping, inner: tagged, log: context.log });
    const stop = new AbortController();
    let stopReason: string | null = null;
    const stopping = waitForStop(duration, stop.signal).then((reason) => {
      if (reason === 'aborted') return;
      stopReason = reason;
      stop.abort();
    });
    try {
      let result;
      try {
        result = await runBridge({
          mapping,
          sink: progress ?? tagged,
          replay,
          msgPaths: (options.msgPath as string[] | undefined) ?? [],
          signal: stop.signal,
          log: context.log,
        });
      } finally {
        progress?.finish();
      }
      // A signal stops the run soon: samples not yet acknowledged stay queued for the next run.
      const interrupted = stopReason === 'SIGINT' || stopReason === 'SIGTERM';
      if (interrupted) context.log.info({ robot, reason: stopReason }, 'stopping: waiting at most 2 s for acknowledgements; the rest stays queued');
      try {
        await uplink.drain((interrupted ? Math.min(drainSeconds, 2) : drainSeconds) * 1000);
      } catch (error) {
        context.log.warn({ robot, error: (error as Error).message }, 'samples remain queued; the next bridge run with this queue sends them');
      }
      const stats = uplink.stats();
      const remaining = queue.stats();
      const alreadyQueued = progress?.skipped ?? 0;
      const summary = { source: result.source, robot, broker: url, stopped: stopReason, samples: result.report.samples, alreadyQueued, skipped: result.report.skipped, ...stats, remaining };
      const resumed = alreadyQueued > 0 ? ` (${alreadyQueued} of them queued by an earlier run with this queue, so not again)` : '';
      const text =
        `source: ${result.source === 'replay' ? `replayed recording ${result.report.path}` : 'live ROS 2 topics (rclnodejs)'}\n` +
        (stopReason === null ? '' : `stopped early (${stopReason})\n`) +
        `${result.report.samples} samples read${resumed}, ${result.report.skipped} skipped; ` +
        `${stats.acknowledged} messages acknowledged by ${url}, ${remaining.items} still queued, ${remaining.dropped} dropped by the queue bound`;
      return { exitCode: remaining.items === 0 ? 0 : 1, summary, text };
    } finally {
      stop.abort();
      await stopping;
      await uplink.close();
      queue.close();
    }
  },
};
