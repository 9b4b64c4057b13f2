import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliContext } from '@fieldloop/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetTopics } from '@fieldloop/contracts';
import mqtt from 'mqtt';
import { edgeCommand } from '../src/cli/edge-command.ts';
import { startAedes } from './helpers/brokers.ts';
import { runEdge } from '../src/cli/edge-run.ts';
import { verifyBundle } from '../src/bundle/verify-bundle.ts';
import { trustedKeysFrom } from '../src/bundle/signing-keys.ts';
import { writeFrameFolder } from './helpers/images.ts';
import { memoryLog } from './helpers/test-log.ts';
import { buildTwoHeadModel, tempDir, writeTfjsBundle } from './helpers/tiny-models.ts';

let root: Awaited<ReturnType<typeof tempDir>>;
const context: CliContext = { log: memoryLog(), progress: () => ({ update: () => undefined, stop: () => undefined }) };

beforeAll(async () => {
  root = await tempDir('cli');
});
afterAll(() => root.remove());

describe('edge command', () => {
  it('keygen, sign and run a bundle', async () => {
    const keys = join(root.path, 'keys');
    const keygen = await edgeCommand.run(['keygen'], { out: keys, name: 'fleet' }, context);
    expect(keygen.exitCode).toBe(0);
    const bundle = join(root.path, 'bundle');
    await writeTfjsBundle(buildTwoHeadModel({ seed: 31 }), bundle, 4);
    const sign = await edgeCommand.run(['sign'], { bundle, key: join(keys, 'fleet.key') }, context);
    expect(sign.exitCode).toBe(0);
    const publicPem = await readFile(join(keys, 'fleet.pub'), 'utf8');
    expect((await verifyBundle(bundle, trustedKeysFrom([publicPem]))).manifest.version).toBe(4);

    const frames = join(root.path, 'frames');
    await writeFrameFolder(frames, 5);
    const stdout = new PassThrough();
    const lines: string[] = [];
    stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const result = await runEdge({ bundle, trustedKey: [join(keys, 'fleet.pub')], source: `folder:${frames}`, output: 'stdout', robot: 'cli-robot' }, context, stdout);
    expect(result.exitCode).toBe(0);
    expect(lines.length).toBe(5);
    expect(JSON.parse(lines[0]!).prediction.model.version).toBe(4);
  });

  it('run serves the fleet model with a campaign', async () => {
    const keys = join(root.path, 'fleet-keys');
    await edgeCommand.run(['keygen'], { out: keys }, context);
    const bundle = join(root.path, 'fleet-bundle');
    await writeTfjsBundle(buildTwoHeadModel({ seed: 32 }), bundle, 7);
    await edgeCommand.run(['sign'], { bundle, key: join(keys, 'edge-signing.key') }, context);
    const frames = join(root.path, 'fleet-frames');
    await writeFrameFolder(frames, 3);
    const broker = await startAedes();
    const base = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const samples: Buffer[] = [];
    const predictions: Buffer[] = [];
    base.on('message', (topic, payload) => (topic.endsWith('/samples') ? samples : predictions).push(payload));
    await base.subscribeAsync([fleetTopics.samples('cli-fleet', 'bot-1'), fleetTopics.predictions('cli-fleet', 'bot-1')]);
    await base.publishAsync(fleetTopics.campaign('cli-fleet'), JSON.stringify({ name: 'all', triggers: [{ kind: 'random', probability: 1 }], caps: { perMinute: 2 } }), { retain: true, qos: 1 });
    try {
      const result = await runEdge(
        {
          bundle,
          fleet: 'cli-fleet',
          robot: 'bot-1',
          broker: broker.url,
          mqttVersion: '4',
          store: join(root.path, 'fleet-store'),
          trustedKey: [join(keys, 'edge-signing.pub')],
          source: `folder:${frames}`,
          loop: true,
          output: 'mqtt',
          duration: '1.5',
        },
        context,
      );
      const summary = result.summary as { version: number; metrics: { inferred: number; captured: number; capped: number } };
      expect(summary.version).toBe(7);
      expect(summary.metrics.inferred).toBeGreaterThan(3);
      expect(summary.metrics.captured).toBe(2);
      expect(summary.metrics.capped).toBeGreaterThan(0);
      expect(predictions.length).toBeGreaterThan(3);
      expect(samples.length).toBe(2);
    } finally {
      await base.endAsync();
      await broker.close();
    }
  });

  it('run serves the stored model offline', async () => {
    const closed = await startAedes();
    const url = closed.url;
    await closed.close();
    const log = memoryLog();
    const result = await runEdge(
      {
        fleet: 'cli-fleet',
        robot: 'bot-1',
        broker: url,
        mqttVersion: '4',
        store: join(root.path, 'fleet-store'),
        trustedKey: [join(root.path, 'fleet-keys', 'edge-signing.pub')],
        source: `folder:${join(root.path, 'fleet-frames')}`,
        output: 'stdout',
        duration: '1',
      },
      { ...context, log },
      new PassThrough(),
    );
    const summary = result.summary as { version: number; metrics: { inferred: number } };
    expect(summary.version).toBe(7);
    expect(summary.metrics.inferred).toBe(3);
  });

  it('keygen never overwrites a key', async () => {
    const keys = join(root.path, 'keys2');
    await edgeCommand.run(['keygen'], { out: keys }, context);
    await expect(edgeCommand.run(['keygen'], { out: keys }, context)).rejects.toThrow(/already exists/);
  });

  it('rejects an unknown action', async () => {
    await expect(edgeCommand.run(['fly'], {}, context)).rejects.toThrow(/unknown edge action "fly"/);
  });

  it('run requires a trusted key', async () => {
    await expect(edgeCommand.run(['run'], { bundle: root.path, source: 'folder:x' }, context)).rejects.toThrow(/--trusted-key/);
  });
});
