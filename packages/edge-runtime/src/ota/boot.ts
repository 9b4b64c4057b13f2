import { cp } from 'node:fs/promises';
import type { Logger } from '@fieldloop/contracts';
import type { TrustedKey } from '../bundle/signing-keys.ts';
import type { InferenceEngine } from '../engines/engine.ts';
import { Predictor } from '../inference/predictor.ts';
import type { ModelStore } from './model-store.ts';

/**
 * Loads the model to serve at start from the store alone, without the network. It loads the
 * current bundle, or the previous one when the current one fails to load. A current bundle still
 * on probation means the process stopped during probation, possibly because of that model, so
 * it is rejected and the previous one boots. A bundle whose probation a clean stop paused boots,
 * and `OtaAgent.start` resumes its probation. Returns null when the store contains no bundle.
 */
export async function bootFromStore(
  store: ModelStore,
  options: { trustedKeys: readonly TrustedKey[]; log: Logger; engines?: readonly InferenceEngine[] },
): Promise<Predictor | null> {
  await store.init();
  const current = await store.readPointer('current');
  const previous = await store.readPointer('previous');
  if (current?.state === 'probation' && previous) {
    options.log.warn({ version: current.version, previous: previous.version }, 'the last update did not finish probation; booting the previous model');
    await store.markRejected(current.bundle.replace(/-v\d+$/, ''), current.version, 'process stopped during probation');
    await store.writePointer('current', previous);
    await store.writePointer('previous', null);
    return bootFromStore(store, options);
  }
  for (const pointer of [current, previous]) {
    if (!pointer) continue;
    try {
      const predictor = await Predictor.load(store.bundlePath(pointer), { trustedKeys: options.trustedKeys, engines: options.engines, log: options.log });
      if (pointer !== current) await store.writePointer('current', { ...pointer, state: 'good' });
      options.log.info({ version: pointer.version, engine: predictor.engine }, 'booted from the bundle store');
      return predictor;
    } catch (error) {
      options.log.error({ version: pointer.version, error: (error as Error).message }, 'stored bundle failed to load; trying the previous one');
    }
  }
  return null;
}

/** Makes a bundle directory the store's current model, for first installs. */
export async function installBundle(store: ModelStore, bundleDir: string, name: string, version: number): Promise<void> {
  await store.init();
  const staging = await store.newStaging(`${name}-v${version}`);
  await cp(bundleDir, staging, { recursive: true });
  const folder = await store.promote(staging, name, version);
  const current = await store.readPointer('current');
  if (current) await store.writePointer('previous', current);
  await store.writePointer('current', { bundle: folder, version, state: 'good' });
}
