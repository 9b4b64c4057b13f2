// Commits field-batch-sized snapshots, one after another, into one store with pack files, the way
// the fleet collector does, and prints the time and CPU of each commit. With index schema 3 a
// commit writes rows for the samples it adds only, so its cost should stay flat as the store grows.
// Usage: node --import tsx bench/snapshot-commits.ts [--batches N] [--per-batch N] [--side PIXELS] [--no-fsync]
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeSampleId, sha256Hex, type SampleRecord } from '@fieldloop/contracts';
import { DatasetStore } from '../src/index.ts';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

const batches = option('--batches', 20);
const perBatch = option('--per-batch', 1000);
/** Width and height of each sample's RGB input. */
const side = option('--side', 32);
const fsync = !process.argv.includes('--no-fsync');

/** Builds one field sample with random bytes, labels for two heads and a split key per 20 samples. */
function makeSample(index: number): { record: SampleRecord; image: Uint8Array; input: Uint8Array } {
  const input = randomBytes(side * side * 3);
  const image = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n'), input]);
  const labels = { steering: (index % 180) - 90, sign: `class-${index % 43}` };
  const inputSha256 = sha256Hex(input);
  return {
    record: {
      id: computeSampleId(inputSha256, labels, []),
      imageSha256: sha256Hex(image),
      inputSha256,
      width: side,
      height: side,
      labels,
      tags: [],
      source: { recording: `robot-${index % 4}`, topic: 'fleet', logTimeNs: String(1_700_000_000_000_000_000n + BigInt(index)), file: 'fleet' },
      splitKey: `robot-${index % 4}/segment-${Math.floor(index / 20)}`,
    },
    image,
    input,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'fieldloop-bench-commits-'));
console.log(`${batches} snapshots of ${perBatch} samples (inputs of ${side}x${side} RGB) into one packed store, fsync ${fsync ? 'on' : 'off'}`);
console.log('snapshot | members after | commit ms (wall) | CPU ms, user + system (whole snapshot: open, adds, commit)');
const commitTimes: number[] = [];
try {
  for (let batch = 0; batch < batches; batch += 1) {
    const samples = Array.from({ length: perBatch }, (_, i) => makeSample(batch * perBatch + i));
    const cpuAtStart = process.cpuUsage();
    const store = await DatasetStore.open(dir, { fsync, packBlobs: true });
    const builder = store.beginSnapshot({ note: `bench batch ${batch + 1}` });
    for (let start = 0; start < samples.length; start += 32) {
      await Promise.all(samples.slice(start, start + 32).map((sample) => builder.add(sample.record, sample)));
    }
    const commitStart = performance.now();
    const manifest = await builder.commit();
    const commitMs = performance.now() - commitStart;
    await store.close();
    const cpu = process.cpuUsage(cpuAtStart);
    commitTimes.push(commitMs);
    console.log(`${manifest.version} | ${manifest.stats.samples} | ${commitMs.toFixed(1)} | ${((cpu.user + cpu.system) / 1000).toFixed(0)}`);
  }
  const quarter = Math.max(1, Math.floor(batches / 4));
  const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
  console.log(
    `mean commit of the first ${quarter} snapshots ${mean(commitTimes.slice(0, quarter)).toFixed(1)} ms, ` +
      `of the last ${quarter} ${mean(commitTimes.slice(-quarter)).toFixed(1)} ms`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
