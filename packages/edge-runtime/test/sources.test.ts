import { join } from 'node:path';
import { findSharedData } from '@fieldloop/contracts';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair, parsePrivateKey, trustedKeysFrom } from '../src/bundle/signing-keys.ts';
import { EdgeRuntime } from '../src/inference/edge-runtime.ts';
import { Predictor } from '../src/inference/predictor.ts';
import { MemorySink } from '../src/outputs/prediction-sink.ts';
import { MqttFrameSource } from '../src/sources/mqtt-frame-source.ts';
import { RecordingSource } from '../src/sources/recording-source.ts';
import { Ros2TopicSource } from '../src/sources/ros2-topic-source.ts';
import { startAedes } from './helpers/brokers.ts';
import { solidPng } from './helpers/images.ts';
import { memoryLog } from './helpers/test-log.ts';
import { buildTwoHeadModel, tempDir, writeTfjsBundle } from './helpers/tiny-models.ts';

const shared = findSharedData();
const recording = shared ? join(shared, 'bags', 'rc_night_a', 'rc_night_a.mcap') : null;
if (!recording) console.warn('shared data not found: skipping the recording replay tests');

const pair = generateSigningKeyPair();
let root: Awaited<ReturnType<typeof tempDir>>;
let predictor: Predictor;

beforeAll(async () => {
  root = await tempDir('sources');
  await writeTfjsBundle(buildTwoHeadModel({ seed: 21 }), join(root.path, 'b'), 1, parsePrivateKey(pair.privateKeyPem));
  predictor = await Predictor.load(join(root.path, 'b'), { trustedKeys: trustedKeysFrom([pair.publicKeyPem]), timedRuns: 1 });
});
afterAll(async () => {
  predictor.dispose();
  await root.remove();
});

describe('MqttFrameSource', () => {
  it('answers frames and counts malformed ones', async () => {
    const broker = await startAedes();
    const camera = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const robot = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const sink = new MemorySink();
    const runtime = new EdgeRuntime({ robot: 'r1', log: memoryLog(), output: sink });
    runtime.setActive(predictor);
    const source = new MqttFrameSource(robot, 'cam/front', memoryLog());
    const controller = new AbortController();
    const running = runtime.run(source, controller.signal);
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const png = await solidPng(10, 10, [30, 60, 90]);
      await camera.publishAsync('cam/front', Buffer.from(png));
      await camera.publishAsync('cam/front', Buffer.alloc(0));
      await camera.publishAsync('cam/front', Buffer.from('garbage bytes'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await camera.publishAsync('cam/front', Buffer.from(png));
      for (let i = 0; i < 100 && runtime.metrics.frames + source.malformed < 4; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      controller.abort();
      await running;
      await camera.endAsync();
      await robot.endAsync();
      await broker.close();
    }
    const metrics = runtime.metrics.snapshot();
    expect(sink.records.length + metrics.dropped).toBeGreaterThanOrEqual(1);
    expect(metrics.malformed).toBeGreaterThanOrEqual(1);
    expect(source.malformed).toBe(1);
  });
});

describe('Ros2TopicSource', () => {
  it('names rclnodejs when it is missing', async (context) => {
    const present = await import('rcl' + 'nodejs').then(() => true, () => false);
    if (present) {
      context.skip('rclnodejs is installed; the missing-module case cannot be tested');
      return;
    }
    const runtime = new EdgeRuntime({ robot: 'r1', log: memoryLog() });
    runtime.setActive(predictor);
    await expect(runtime.run(new Ros2TopicSource('/camera'), new AbortController().signal)).rejects.toThrow(/needs rclnodejs/);
  });
});

describe.skipIf(!recording)('RecordingSource', () => {
  it('replays as fast as inference pulls', async () => {
    const sink = new MemorySink();
    const runtime = new EdgeRuntime({ robot: 'r1', log: memoryLog(), output: sink });
    runtime.setActive(predictor);
    await runtime.run(new RecordingSource(recording!, { speed: 0 }), new AbortController().signal);
    expect(sink.records.length).toBe(108);
    expect(runtime.metrics.snapshot().dropped).toBe(0);
  });

  it('replays in real time at 20x', async () => {
    const runtime = new EdgeRuntime({ robot: 'r1', log: memoryLog() });
    runtime.setActive(predictor);
    const started = performance.now();
    await runtime.run(new RecordingSource(recording!, { speed: 20 }), new AbortController().signal);
    const seconds = (performance.now() - started) / 1000;
    const metrics = runtime.metrics.snapshot();
    expect(seconds).toBeGreaterThan(10.7 / 20 - 0.05);
    expect(metrics.inferred + metrics.dropped).toBe(108);
  });

  it('rejects a missing topic', async () => {
    const runtime = new EdgeRuntime({ robot: 'r1', log: memoryLog() });
    runtime.setActive(predictor);
    await expect(runtime.run(new RecordingSource(recording!, { topic: '/nope', speed: 0 }), new AbortController().signal)).rejects.toThrow(/no image topic \/nope/);
  });
});
