import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatasetStore } from '@fieldloop/dataset';
import { describe, expect, it } from 'vitest';
import { FleetCollector } from '../../src/fleet/collector.ts';
import { startEmbeddedBroker } from '../../src/fleet/embedded-broker.ts';
import { MqttUplink } from '../../src/fleet/mqtt-uplink.ts';
import { OutboundQueue } from '../../src/fleet/outbound-queue.ts';
import { makeSample, waitFor } from '../fleet/support/field-samples.ts';
import { Mosquitto, mosquittoMissing } from '../fleet/support/mosquitto.ts';
import { TcpProxy } from '../fleet/support/tcp-proxy.ts';

const ROBOTS = 3;
const PER_ROBOT = Number(process.env.FIELDLOOP_SOAK_SAMPLES ?? 2000);

describe('fleet soak', () => {
  it('delivers every sample through repeated cuts and broker restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-soak-'));
    const mosquitto = mosquittoMissing === null ? await Mosquitto.start(dir) : null;
    const aedes = mosquitto ? null : await startEmbeddedBroker();
    const port = mosquitto?.port ?? aedes?.port ?? 0;
    const version = mosquitto ? 5 : 4;
    const proxy = await TcpProxy.start(port);
    const collector = await FleetCollector.start({
      fleet: 'soak',
      broker: { url: `mqtt://127.0.0.1:${port}`, protocolVersion: version, reconnectPeriodMs: 200 },
      storeDir: join(dir, 'store'),
      statePath: join(dir, 'collector.db'),
      commitEvery: 250,
      commitIntervalMs: 2000,
    });
    const robots = Array.from({ length: ROBOTS }, (_, index) => {
      const queue = OutboundQueue.open({ path: join(dir, `robot-${index}.db`) });
      const uplink = new MqttUplink({ fleet: 'soak', robot: `robot-${index}`, broker: { url: proxy.url, protocolVersion: version, reconnectPeriodMs: 200 }, queue, maxMessagesPerSecond: 500 });
      return { queue, uplink };
    });
    const chaos = setInterval(() => {
      proxy.cut();
      setTimeout(() => proxy.restore(), 300);
    }, 1500);
    try {
      for (let i = 0; i < PER_ROBOT; i += 1) {
        for (const [index, robot] of robots.entries()) {
          const sample = makeSample(`soak-${index}-${i}`);
          await robot.uplink.add(sample.record, sample.blobs);
        }
        if (i === Math.floor(PER_ROBOT / 2)) await mosquitto?.restart();
        if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      clearInterval(chaos);
      proxy.restore();
      for (const robot of robots) await robot.uplink.drain(300_000);
      await waitFor(() => collector.stats().accepted === ROBOTS * PER_ROBOT, 'every sample', 300_000);
      await collector.close();
      const store = await DatasetStore.open(join(dir, 'store'), { readOnly: true });
      const ids = [...store.samples('latest')].map((sample) => sample.id);
      await store.close();
      expect(ids.length).toBe(ROBOTS * PER_ROBOT);
      expect(new Set(ids).size).toBe(ROBOTS * PER_ROBOT);
    } finally {
      clearInterval(chaos);
      for (const robot of robots) {
        await robot.uplink.close();
        robot.queue.close();
      }
      await proxy.close();
      await mosquitto?.stop();
      await aedes?.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
