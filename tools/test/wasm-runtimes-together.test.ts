import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { exportTflite } from '@fieldloop/distill';
import { LiteRtEngine, TfjsTfliteEngine } from '@fieldloop/edge-runtime';
import { openRecording, Rosbag2McapWriter } from '@fieldloop/ros-bridge';

// The loop runs every stage in one process: the TFLite runtimes' browser shims must not change
// how emscripten modules loaded after them (the MCAP zstd codec) find their wasm files.
describe('wasm runtimes in one process', () => {
  it('reads zstd MCAP after both TFLite engines loaded', async () => {
    await tf.setBackend('cpu');
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, name: 'out' })] });
    const bytes = exportTflite(model);
    model.dispose();
    for (const engine of [new LiteRtEngine(), new TfjsTfliteEngine()]) {
      const loaded = await engine.load({ format: 'tflite', bytes } as Parameters<typeof engine.load>[0]);
      expect(loaded.outputs.length).toBe(1);
      loaded.dispose();
    }
    expect((globalThis as Record<string, unknown>).importScripts).toBeUndefined();

    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-wasm-'));
    try {
      const bag = join(dir, 'bag');
      const writer = await Rosbag2McapWriter.create(bag, [{ topic: '/n', type: 'std_msgs/msg/Int32' }]);
      for (let i = 0; i < 5; i += 1) await writer.write('/n', BigInt(i) * 1_000_000n, { data: i });
      await writer.close();
      const reader = await openRecording(bag);
      let count = 0;
      for await (const message of reader.messages()) if (message.data.length > 0) count += 1;
      await reader.close();
      expect(count).toBe(5);
      expect(reader.losses()).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
