import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetStore } from '@fieldloop/dataset';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeCommand } from '../../src/cli/bridge-command.ts';
import { collectCommand } from '../../src/cli/collect-command.ts';
import { createMessageDecoder, DefinitionRegistry } from '../../src/decode/index.ts';
import { FleetCollector } from '../../src/fleet/collector.ts';
import { startEmbeddedBroker } from '../../src/fleet/embedded-broker.ts';
import { MqttUplink } from '../../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';
import { ingestRecording } from '../../src/ingest/ingest-recording.ts';
import { loadMapping } from '../../src/mapping/load-mapping.ts';
import { openRecording } from '../../src/recording/open-recording.ts';
import { ArraySink } from '../support/array-sink.ts';
import { buildDrive, DRIVE_TOPICS, writeDriveMcap } from '../support/drive-recording.ts';
import { captureContext } from './support/capture-context.ts';
import { makeSample, waitFor } from './support/field-samples.ts';

const FRAMES = 30;

describe('fleet commands', () => {
  let dir: string;
  let mcapFile: string;
  let mappingFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fieldloop-commands-'));
    mcapFile = join(dir, 'drive.mcap');
    await writeDriveMcap(mcapFile, await buildDrive(FRAMES));
    mappingFile = join(dir, 'drive.json');
    const mapping = {
      image: { topic: DRIVE_TOPICS.image, width: 8, height: 6 },
      labels: { steering: { topic: DRIVE_TOPICS.steering, field: 'data', tolerance_ms: 45 } },
      tags: ['field'],
    };
    await writeFile(mappingFile, JSON.stringify(mapping));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('bridge replays a recording with the ingest mapping', async () => {
    const broker = await startEmbeddedBroker();
    const storeDir = join(dir, 'bridge-store');
    const collector = await FleetCollector.start({
      fleet: 'test-fleet',
      broker: { url: broker.url, protocolVersion: 4 },
      storeDir,
      statePath: join(dir, 'bridge-collector.db'),
    });
    const context = captureContext();
    const result = await bridgeCommand.run(
      [],
      { robot: 'rover-1', fleet: 'test-fleet', mapping: mappingFile, replay: mcapFile, broker: broker.url, mqttVersion: '4', queue: join(dir, 'bridge-queue.db'), rate: '5000' },
      context,
    );
    const reference = new ArraySink();
    const reader = await openRecording(mcapFile);
    await ingestRecording(reader, { mapping: await loadMapping(mappingFile), decoder: createMessageDecoder({ definitions: new DefinitionRegistry() }), sink: reference });
    await reader.close();

    expect(result.exitCode).toBe(0);
    expect((result.summary as { source: string }).source).toBe('replay');
    expect(result.text).toMatch(/^source: replayed recording/);
    await waitFor(() => collector.stats().accepted === reference.samples.length, 'every replayed sample');

    // The same replay again with the same queue sends nothing: its samples are all queued already.
    const again = await bridgeCommand.run(
      [],
      { robot: 'rover-1', fleet: 'test-fleet', mapping: mappingFile, replay: mcapFile, broker: broker.url, mqttVersion: '4', queue: join(dir, 'bridge-queue.db'), rate: '5000' },
      captureContext(),
    );
    expect(again.summary).toMatchObject({ samples: FRAMES, alreadyQueued: FRAMES, acknowledged: 0 });
    expect(again.text).toMatch(/30 samples read \(30 of them queued by an earlier run with this queue, so not again\)/);
    expect(collector.stats().messages).toBe(reference.samples.length);
    await collector.close();
    await broker.close();
    const store = await DatasetStore.open(storeDir, { readOnly: true });
    const ids = [...store.samples('latest')].map((sample) => sample.id).sort();
    await store.close();
    expect(reference.samples.length).toBe(FRAMES);
    expect(ids).toEqual(reference.samples.map((sample) => sample.record.id).sort());
  });

  it('bridge adds tags to every sample', async () => {
    const broker = await startEmbeddedBroker();
    const storeDir = join(dir, 'tagged-store');
    const collector = await FleetCollector.start({ fleet: 'test-fleet', broker: { url: broker.url, protocolVersion: 4 }, storeDir, statePath: join(dir, 'tagged-collector.db') });
    const result = await bridgeCommand.run(
      [],
      { robot: 'rover-2', fleet: 'test-fleet', mapping: mappingFile, replay: mcapFile, broker: broker.url, queue: join(dir, 'tagged-queue.db'), rate: '5000', tag: ['robot:rover-2', 'field'] },
      captureContext(),
    );
    expect(result.exitCode).toBe(0);
    await waitFor(() => collector.stats().accepted === FRAMES, 'every tagged sample');
    await collector.close();
    await broker.close();
    const store = await DatasetStore.open(storeDir, { readOnly: true });
    const samples = [...store.samples('latest')];
    await store.close();
    expect(samples).toHaveLength(FRAMES);
    // The mapping gives every sample the tag field already, so it is not repeated.
    for (const sample of samples) expect(sample.tags).toEqual(['field', 'robot:rover-2']);
  });

  it('bridge without rclnodejs asks for a replay', async () => {
    await expect(
      bridgeCommand.run([], { robot: 'rover-1', mapping: mappingFile, broker: 'mqtt://127.0.0.1:1', queue: join(dir, 'live-queue.db'), drainTimeout: '0' }, captureContext()),
    ).rejects.toThrow(/rclnodejs.*--replay/);
  });

  it('bridge rejects an invalid robot id', async () => {
    await expect(
      bridgeCommand.run([], { robot: 'rover/1', mapping: mappingFile, replay: mcapFile, queue: join(dir, 'bad-queue.db') }, captureContext()),
    ).rejects.toThrow(/invalid robot id/);
  });

  it('bridge checks options before creating its queue', async () => {
    const cases: Array<[Record<string, string | string[]>, RegExp]> = [
      [{ rate: 'fast' }, /invalid --rate "fast"/],
      [{ broker: 'http://127.0.0.1:1883' }, /invalid --broker .*mqtt:\/\//],
      [{ replay: join(dir, 'missing.mcap') }, /--replay .*missing\.mcap does not exist/],
      [{ mqttVersion: '3' }, /invalid --mqtt-version "3"/],
      [{ tag: ['field', ' '] }, /a --tag value is empty/],
    ];
    for (const [extra, message] of cases) {
      const queue = join(dir, `checked-queue-${Object.keys(extra)[0]}.db`);
      await expect(bridgeCommand.run([], { robot: 'rover-1', mapping: mappingFile, replay: mcapFile, queue, ...extra }, captureContext())).rejects.toThrow(message);
      expect(existsSync(queue)).toBe(false);
    }
  });

  it('collect rejects a file as store before it receives', async () => {
    const file = join(dir, 'not-a-store');
    await writeFile(file, 'text');
    await expect(collectCommand.run([], { store: file, port: '0', duration: '1' }, captureContext())).rejects.toThrow(/is a file/);
    expect(existsSync(`${file}.collector.db`)).toBe(false);
    await expect(collectCommand.run([], { store: join(dir, 'port-store'), port: '99999', duration: '1' }, captureContext())).rejects.toThrow(
      /invalid --port "99999": expected a number from 0 to 65535/,
    );
  });

  it('collect checks broker options before starting aedes', async () => {
    const store = join(dir, 'options-store');
    await expect(collectCommand.run([], { store, port: '0', duration: '1', mqttVersion: '7' }, captureContext())).rejects.toThrow(/invalid --mqtt-version "7"/);
    await expect(collectCommand.run([], { store, port: '0', duration: '1', mqttVersion: '5' }, captureContext())).rejects.toThrow(
      /--mqtt-version 5 needs --broker/,
    );
    await expect(collectCommand.run([], { store, port: '0', duration: '1', fleet: 'a/b' }, captureContext())).rejects.toThrow(/fleet/);
  });

  it('collect gives up on a refused broker', async () => {
    const context = captureContext();
    await expect(collectCommand.run([], { store: join(dir, 'unreachable-store'), broker: 'mqtt://127.0.0.1:1', duration: '1' }, context)).rejects.toThrow(
      /could not connect to mqtt:\/\/127\.0\.0\.1:1/,
    );
    // The client stopped: mqtt.js would retry every second otherwise.
    const attempts = context.lines.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(context.lines.length).toBe(attempts);
  });

  it('collect says when its port is taken', async () => {
    const other = await startEmbeddedBroker();
    try {
      await expect(collectCommand.run([], { store: join(dir, 'taken-store'), port: String(other.port), duration: '1' }, captureContext())).rejects.toThrow(
        /127\.0\.0\.1:\d+ failed: .*EADDRINUSE.*choose another port/,
      );
    } finally {
      await other.close();
    }
  });

  it('collect starts an embedded broker', async () => {
    const context = captureContext();
    const storeDir = join(dir, 'collect-store');
    const running = collectCommand.run([], { store: storeDir, fleet: 'test-fleet', port: '0', duration: '3', commitInterval: '60' }, context);
    await waitFor(() => context.lines.some((line) => line.message === 'collecting'), 'the collector to start');
    const url = context.lines.find((line) => typeof line.fields.url === 'string')?.fields.url as string;
    const queue = OutboundQueue.open({ path: join(dir, 'collect-queue.db') });
    // No protocol version: the uplink finds out that aedes speaks MQTT 3.1.1.
    const uplink = new MqttUplink({ fleet: 'test-fleet', robot: 'rover-9', broker: { url, reconnectPeriodMs: 50 }, queue });
    for (let i = 0; i < 5; i += 1) await uplink.add(makeSample(`cmd${i}`).record, makeSample(`cmd${i}`).blobs);
    await uplink.drain(10_000);
    await uplink.close();
    queue.close();
    const result = await running;
    expect(url).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    expect(result.exitCode).toBe(0);
    expect((result.summary as { batches: Array<{ perRobot: Record<string, number> }> }).batches[0]?.perRobot).toEqual({ 'rover-9': 5 });
  });
});
