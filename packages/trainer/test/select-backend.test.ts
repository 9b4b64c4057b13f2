import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { selectBackend, type BackendName } from '../src/backend/select-backend.ts';

async function importable(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

describe('selectBackend', () => {
  it('picks the fastest backend that loads', async () => {
    const gpu = await importable('@tensorflow/tfjs-node-gpu');
    const node = await importable('@tensorflow/tfjs-node');
    const selection = await selectBackend();
    let expected: BackendName = 'wasm';
    if (node) expected = 'tfjs-node';
    if (gpu) expected = 'tfjs-node-gpu';
    expect(selection.name).toBe(expected);
    expect(selection.reason).toContain(expected);
    expect(selection.versions['@tensorflow/tfjs-core']).toBe(tf.version_core);
  });

  it('reports wasm SIMD and threads', async () => {
    const selection = await selectBackend('wasm');
    expect(selection.tfBackend).toBe('wasm');
    expect(typeof selection.wasm?.simd).toBe('boolean');
    expect(selection.wasm?.threadCount).toBeGreaterThanOrEqual(1);
  });

  it('rejects an unavailable GPU backend', async (context) => {
    if (await importable('@tensorflow/tfjs-node-gpu')) context.skip('tfjs-node-gpu is installed here, so it cannot fail to load');
    await expect(selectBackend('tfjs-node-gpu')).rejects.toThrow(/Backend tfjs-node-gpu was requested but failed to load: .*Versions found: .*@tensorflow\/tfjs-core@4/);
  });

  it('rejects an unknown backend', async () => {
    await expect(selectBackend('webgpu' as BackendName)).rejects.toThrow("Unknown backend 'webgpu'");
  });

  it('selects cpu on request', async () => {
    const selection = await selectBackend('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(selection.reason).toContain('requested');
  });
});
