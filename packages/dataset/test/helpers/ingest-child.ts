/**
 * A separate writer process for the crash and lock tests. Usage:
 *   node --import tsx ingest-child.ts <storeDir> <mode> <firstSeed> <count> [loose|pack]
 * Modes:
 * - `hold` opens the store and waits.
 * - `stop-before-commit` adds the samples and waits before commit.
 * - `kill-after-publish` commits and kills itself once the blobs are published.
 * - `kill-mid-batch` adds half of the samples, lets their writes reach the file and kills itself.
 * - `commit-loop` commits snapshots of `count` samples one after the other until it is killed. It
 *   prints `committed <version>` after each commit has returned.
 * Each mode prints `ready` on stdout when it has reached the point where it waits, commits or
 * starts the loop. The last argument sets where blobs go, `loose` (the default) or `pack`. With
 * `pack` each input is 128x128 pixels (48 KiB), so that a batch fills pack write chunks.
 */
import { DatasetStore } from '../../src/index.ts';
import { makeSamples } from './sample-fixtures.ts';

const [storeDir, mode, firstSeedText, countText, layout = 'loose'] = process.argv.slice(2);
if (storeDir === undefined || mode === undefined || (layout !== 'loose' && layout !== 'pack')) {
  throw new Error(
    'Usage: ingest-child.ts <storeDir> <hold|stop-before-commit|kill-after-publish|kill-mid-batch|commit-loop> ' +
      '<firstSeed> <count> [loose|pack]',
  );
}
const packBlobs = layout === 'pack';
const count = Number(countText ?? '0');
const firstSeed = Number(firstSeedText ?? '0');
const size = packBlobs ? { width: 128, height: 128 } : {};
const samples = makeSamples(count, firstSeed, { recording: 'child-run', ...size });
const waitForever = (): Promise<never> => new Promise(() => setInterval(() => undefined, 60_000));
const killSelf = (): void => {
  process.kill(process.pid, 'SIGKILL');
};

const store = await DatasetStore.open(storeDir, {
  packBlobs,
  afterBlobsPublished: mode === 'kill-after-publish' ? killSelf : undefined,
});
if (mode === 'hold') {
  process.stdout.write('ready\n');
  await waitForever();
}
if (mode === 'commit-loop') {
  process.stdout.write('ready\n');
  for (let round = 1; ; round += 1) {
    const batch = makeSamples(count, firstSeed + round * count, { recording: `child-loop-${round}`, ...size });
    const manifest = await store.createSnapshot({ note: `child loop ${round}`, samples: batch });
    process.stdout.write(`committed ${manifest.version}\n`);
  }
}
const builder = store.beginSnapshot({ note: `child ${mode}` });
if (mode === 'kill-mid-batch') {
  for (const sample of samples.slice(0, Math.ceil(samples.length / 2))) await builder.add(sample.record, sample);
  process.stdout.write('ready\n');
  // The pack writes run on the libuv thread pool, so they get time to reach the file.
  await new Promise((resolve) => setTimeout(resolve, 200));
  killSelf();
  await waitForever();
}
for (const sample of samples) await builder.add(sample.record, sample);
process.stdout.write('ready\n');
if (mode === 'stop-before-commit') await waitForever();
await builder.commit();
throw new Error('The commit finished although the process should have been killed before.');
