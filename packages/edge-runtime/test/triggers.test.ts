import { join } from 'node:path';
import { fleetTopics } from '@fieldloop/contracts';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKeyPair, parsePrivateKey, trustedKeysFrom } from '../src/bundle/signing-keys.ts';
import { EdgeRuntime } from '../src/inference/edge-runtime.ts';
import type { Prediction } from '../src/inference/predictor.ts';
import { Predictor } from '../src/inference/predictor.ts';
import { CampaignError, parseCampaign, validateCampaign } from '../src/triggers/campaign.ts';
import { followCampaign } from '../src/triggers/campaign-subscriber.ts';
import { TriggerEngine } from '../src/triggers/trigger-engine.ts';
import { DirectMqttUplink, MemoryUplink } from '../src/triggers/uplink.ts';
import { startAedes } from './helpers/brokers.ts';
import { solidPng } from './helpers/images.ts';
import { memoryLog } from './helpers/test-log.ts';
import { buildTwoHeadModel, tempDir, writeTfjsBundle } from './helpers/tiny-models.ts';

function prediction(probabilities: number[], steering = 90, version = 1): Prediction {
  const classes = ['stop', 'yield', 'speed'];
  const order = [...probabilities.keys()].sort((a, b) => probabilities[b]! - probabilities[a]!);
  const entropy = -probabilities.reduce((sum, p) => (p > 0 ? sum + p * Math.log2(p) : sum), 0) / Math.log2(3);
  return {
    model: { name: 'm', version },
    engine: 'test',
    latencyMs: 1,
    heads: {
      sign: {
        kind: 'classification',
        label: classes[order[0]!]!,
        confidence: probabilities[order[0]!]!,
        probabilities: Object.fromEntries(classes.map((name, i) => [name, probabilities[i]!])),
        margin: probabilities[order[0]!]! - probabilities[order[1]!]!,
        entropy,
      },
      steering: { kind: 'regression', value: steering, raw: 0 },
    },
  };
}

function engine(triggers: unknown[], caps = { perMinute: 100, perHour: 1000 }): TriggerEngine {
  return new TriggerEngine(validateCampaign({ name: 't', triggers, caps, seed: 7 }, 'test'));
}

describe('campaign validation', () => {
  it('parses YAML with defaults', () => {
    const campaign = parseCampaign('name: night\ntriggers:\n  - kind: margin\n    head: sign\n    below: 0.1\n', 'test');
    expect(campaign.caps).toEqual({ perMinute: 10, perHour: 100 });
  });
  it('names an unknown kind', () => {
    expect(() => validateCampaign({ triggers: [{ kind: 'psychic' }] }, 'test')).toThrow(/triggers\[0\]\.kind is invalid \("psychic"\)/);
  });
  it('names an out-of-range band', () => {
    expect(() => validateCampaign({ triggers: [{ kind: 'confidence-band', head: 'sign', min: 0.5, max: 2 }] }, 'test')).toThrow(CampaignError);
  });
  it('names missing label thresholds', () => {
    expect(() => validateCampaign({ triggers: [{ kind: 'label-disagreement' }] }, 'test')).toThrow(/triggers\[0\]\.thresholds is invalid \(missing\)/);
  });
  it('rejects invalid YAML', () => {
    expect(() => parseCampaign('triggers: [', 'test')).toThrow(/not valid YAML/);
  });
});

describe('TriggerEngine', () => {
  it('fires on a confidence band', () => {
    expect(engine([{ kind: 'confidence-band', head: 'sign', min: 0.4, max: 0.6 }]).evaluate(prediction([0.5, 0.3, 0.2]), null).capture).toBe(true);
  });
  it('stays quiet outside the band', () => {
    expect(engine([{ kind: 'confidence-band', head: 'sign', min: 0.4, max: 0.6 }]).evaluate(prediction([0.9, 0.05, 0.05]), null).capture).toBe(false);
  });
  it('fires on a small margin', () => {
    expect(engine([{ kind: 'margin', head: 'sign', below: 0.1 }]).evaluate(prediction([0.45, 0.4, 0.15]), null).reasons[0]).toMatch(/margin/);
  });
  it('fires on high entropy', () => {
    expect(engine([{ kind: 'entropy', head: 'sign', above: 0.9 }]).evaluate(prediction([0.34, 0.33, 0.33]), null).capture).toBe(true);
  });
  it('fires on a rare class', () => {
    expect(engine([{ kind: 'rare-class', head: 'sign', classes: ['yield'] }]).evaluate(prediction([0.1, 0.8, 0.1]), null).capture).toBe(true);
  });
  it('fires on shadow disagreement', () => {
    const triggers = engine([{ kind: 'shadow-disagreement', thresholds: { steering: 5 } }]);
    expect(triggers.evaluate(prediction([1, 0, 0], 90), prediction([1, 0, 0], 97, 2)).reasons[0]).toMatch(/steering by 7.000/);
  });
  it('ignores agreeing shadows', () => {
    const triggers = engine([{ kind: 'shadow-disagreement', thresholds: { sign: 0.3 } }]);
    expect(triggers.evaluate(prediction([0.8, 0.1, 0.1]), prediction([0.7, 0.2, 0.1], 90, 2)).capture).toBe(false);
  });
  it('fires where steering misses the recorded label', () => {
    const triggers = engine([{ kind: 'label-disagreement', thresholds: { steering: 5 } }]);
    const decision = triggers.evaluate(prediction([1, 0, 0], 90), null, 0, { steering: 97.5, sign: 'stop' });
    expect(decision.capture).toBe(true);
    expect(decision.reasons).toEqual(['steering is 7.500 from the recorded 97.5 (> 5)']);
  });
  it('keeps frames whose label the prediction meets', () => {
    const triggers = engine([{ kind: 'label-disagreement', thresholds: { steering: 5, sign: 0.5 } }]);
    expect(triggers.evaluate(prediction([0.8, 0.1, 0.1], 90), null, 0, { steering: 93, sign: 'stop' }).capture).toBe(false);
  });
  it('fires on a low probability for the recorded class', () => {
    const triggers = engine([{ kind: 'label-disagreement', thresholds: { sign: 0.5 } }]);
    expect(triggers.evaluate(prediction([0.8, 0.1, 0.1]), null, 0, { sign: 'yield' }).reasons).toEqual(['sign is 0.900 from the recorded yield (> 0.5)']);
    expect(triggers.evaluate(prediction([0.8, 0.1, 0.1]), null, 0, { sign: 'roundabout' }).reasons[0]).toMatch(/Infinity from the recorded roundabout/);
  });
  it('stays quiet on frames without recorded labels', () => {
    const triggers = engine([{ kind: 'label-disagreement', thresholds: { steering: 0 } }]);
    expect(triggers.evaluate(prediction([1, 0, 0], 90), null, 0).capture).toBe(false);
    expect(triggers.evaluate(prediction([1, 0, 0], 90), null, 0, { sign: 'stop' }).capture).toBe(false);
  });
  it('samples at random reproducibly', () => {
    const run = () => Array.from({ length: 200 }, () => engine([{ kind: 'random', probability: 0.1 }]).evaluate(prediction([1, 0, 0]), null).capture);
    const first = engine([{ kind: 'random', probability: 0.1 }]);
    const picks = Array.from({ length: 1000 }, () => first.evaluate(prediction([1, 0, 0]), null).capture).filter(Boolean).length;
    expect(picks).toBeGreaterThan(60);
    expect(picks).toBeLessThan(140);
    expect(run()).toEqual(run());
  });
  it('enforces the per-minute cap', () => {
    const triggers = engine([{ kind: 'rare-class', head: 'sign', classes: ['stop'] }], { perMinute: 3, perHour: 100 });
    const decisions = Array.from({ length: 5 }, (_, i) => triggers.evaluate(prediction([1, 0, 0]), null, 1_000 + i));
    expect(decisions.filter((d) => d.capture).length).toBe(3);
    expect(decisions.filter((d) => d.capped).length).toBe(2);
    expect(triggers.evaluate(prediction([1, 0, 0]), null, 62_000).capture).toBe(true);
  });
  it('enforces the per-hour cap', () => {
    const triggers = engine([{ kind: 'rare-class', head: 'sign', classes: ['stop'] }], { perMinute: 100, perHour: 4 });
    const captured = Array.from({ length: 10 }, (_, i) => triggers.evaluate(prediction([1, 0, 0]), null, i * 120_000)).filter((d) => d.capture).length;
    expect(captured).toBe(4);
  });
});

describe('capture through the runtime', () => {
  const pair = generateSigningKeyPair();
  const trusted = trustedKeysFrom([pair.publicKeyPem]);
  let root: Awaited<ReturnType<typeof tempDir>>;
  let active: Predictor;
  let shadow: Predictor;

  beforeAll(async () => {
    root = await tempDir('triggers');
    await writeTfjsBundle(buildTwoHeadModel({ seed: 11 }), join(root.path, 'a'), 1, parsePrivateKey(pair.privateKeyPem));
    await writeTfjsBundle(buildTwoHeadModel({ seed: 12 }), join(root.path, 's'), 2, parsePrivateKey(pair.privateKeyPem));
    active = await Predictor.load(join(root.path, 'a'), { trustedKeys: trusted, timedRuns: 1 });
    shadow = await Predictor.load(join(root.path, 's'), { trustedKeys: trusted, timedRuns: 1 });
  });
  afterAll(async () => {
    active.dispose();
    shadow.dispose();
    await root.remove();
  });

  it('sends shadow disagreements to the uplink', async () => {
    const uplink = new MemoryUplink();
    const campaign = validateCampaign({ name: 'shadow', triggers: [{ kind: 'shadow-disagreement', thresholds: { steering: 0 } }] }, 'test');
    const runtime = new EdgeRuntime({ robot: 'r9', log: memoryLog(), uplink, campaign });
    runtime.setActive(active);
    runtime.setShadow(shadow);
    const png = await solidPng(8, 8, [90, 40, 200]);
    const answer = await runtime.handleFrame({ id: 'f1', source: 'test', stamp: 1_700_000_000_000, image: { kind: 'encoded', bytes: png }, bytes: png });
    expect(answer?.model.version).toBe(1);
    expect(uplink.samples.length).toBe(1);
    expect(uplink.samples[0]?.shadow?.model.version).toBe(2);
    expect(uplink.samples[0]?.reasons[0]).toMatch(/shadow v2 disagrees on steering/);
    expect(Buffer.from(uplink.samples[0]!.image).equals(Buffer.from(png))).toBe(true);
  });

  it('takes campaigns and sends samples over MQTT', async () => {
    const broker = await startAedes();
    const base = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const robotClient = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    try {
      const log = memoryLog();
      const runtime = new EdgeRuntime({ robot: 'r9', log, uplink: new DirectMqttUplink(robotClient, 'f1', 'r9') });
      runtime.setActive(active);
      const applied: string[] = [];
      const unsubscribe = await followCampaign(robotClient, 'f1', runtime, log, (campaign) => applied.push(campaign?.name ?? '(none)'));
      const received: Buffer[] = [];
      await base.subscribeAsync(fleetTopics.samples('f1', 'r9'));
      base.on('message', (_topic, payload) => received.push(payload));
      await base.publishAsync(fleetTopics.campaign('f1'), 'triggers: [{kind: nonsense}]', { retain: true, qos: 1 });
      await base.publishAsync(fleetTopics.campaign('f1'), 'name: all\ntriggers:\n  - kind: random\n    probability: 1\n', { retain: true, qos: 1 });
      for (let i = 0; i < 50 && applied.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      const png = await solidPng(8, 8, [1, 2, 3]);
      await runtime.handleFrame({ id: 'f2', source: 'test', stamp: Date.now(), image: { kind: 'encoded', bytes: png }, bytes: png });
      for (let i = 0; i < 50 && received.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      await unsubscribe();
      expect(applied).toEqual(['all']);
      expect(log.lines.some((line) => line.level === 'error' && /invalid campaign/.test(line.message))).toBe(true);
      expect(JSON.parse(received[0]!.toString()).frameId).toBe('f2');
    } finally {
      await base.endAsync();
      await robotClient.endAsync();
      await broker.close();
    }
  });
});
