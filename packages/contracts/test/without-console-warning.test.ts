import { afterEach, describe, expect, it, vi } from 'vitest';
import { withoutConsoleWarning } from '../src/without-console-warning.ts';

describe('withoutConsoleWarning', () => {
  afterEach(() => vi.restoreAllMocks());

  it('drops matching warnings only', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const result = await withoutConsoleWarning(/WebGPU device/, async () => {
      console.warn('Failed to create default WebGPU device:', new Error('navigator is not defined'));
      console.warn('model has 3 outputs');
      return 42;
    });
    expect(result).toBe(42);
    expect(warn.mock.calls).toEqual([['model has 3 outputs']]);
  });

  it('restores console.warn after a failure', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    await expect(withoutConsoleWarning(/x/, () => Promise.reject(new Error('load failed')))).rejects.toThrow('load failed');
    console.warn('x after');
    expect(warn.mock.calls).toEqual([['x after']]);
  });
});
