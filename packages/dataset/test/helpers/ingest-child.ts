/**
 * A separate writer process for the crash and lock tests. Usage:
 *   node --import tsx ingest-child.ts <storeDir> <mode> <firstSeed> <count>
 * Modes: `hold` opens the store and waits; `stop-before-commit` adds the samples and waits
 * before commit; `kill-after-publish` commits and kills itself once the blobs are published.
 * Each mode prints `ready` on stdout when it has reached the point where it waits or commits.
 */
import { DatasetStore } from '../../src/index.ts';
import { makeSamples } from './sample-fixtures.ts';

const [storeDir, mode, firstSeedText, countText] = process.argv.slice(2);
if (storeDir === undefined || mode === undefined) {
  throw new Error('Usage: ingest-child.ts <storeDir> <hold|stop-before-commit|kill-after-publish> <firstSeed> <count>');
}
const samples = makeSamples(Number(countText ?? '0'), Number(firstSeedText ?? '0'), { recording: 'child-run' });
const waitForever = (): Promise<never> => new Promise(() => setInterval(() => undefined, 60_000));

const store = await DatasetStore.open(storeDir, {
  afterBlobsPublished:
    mode === 'kill-after-publish'
      ? () => {
          process.kill(process.pid, 'SIGKILL');
        }
      : undefined,
});
if (mode === 'hold') {
  process.stdout.write('ready\n');
  await waitForever();
}
const builder = store.beginSnapshot({ note: `child ${mode}` });
for (const sample of samples) await builder.add(sample.record, sample);
process.stdout.write('ready\n');
if (mode === 'stop-before-commit') await waitForever();
await builder.commit();
throw new Error('The commit finished although the process should have been killed before.');
