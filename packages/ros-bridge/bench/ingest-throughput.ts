// Ingest throughput on the Husky MCAP next to a plain @mcap/core read and decompress of the
// same file, in one run. Usage: npx nx run ros-bridge:bench [-- --rounds N]
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { McapIndexedReader } from '@mcap/core';
import { loadDecompressHandlers } from '@mcap/support';
import { findSharedData } from '@fieldloop/contracts';
import { createMessageDecoder } from '../src/decode/index.ts';
import { ingestRecording } from '../src/ingest/ingest-recording.ts';
import { openRecording } from '../src/recording/open-recording.ts';

const data = findSharedData();
if (!data) {
  console.error('bench skipped: shared/data not found beside the repository (set FIELDLOOP_SHARED_DATA)');
  process.exit(0);
}
const file = process.argv.includes('--file') ? (process.argv[process.argv.indexOf('--file') + 1] as string) : join(data, 'bags/husky_test1/husky_test1.mcap');
const rounds = process.argv.includes('--rounds') ? Number(process.argv[process.argv.indexOf('--rounds') + 1]) : 9;
const bytes = (await stat(file)).size;

async function plainMcap(): Promise<number> {
  const handle = await open(file, 'r');
  const decompressHandlers = await loadDecompressHandlers();
  const readable = {
    size: async () => BigInt(bytes),
    read: async (offset: bigint, length: bigint) => {
      const buffer = new Uint8Array(Number(length));
      await handle.read(buffer, 0, buffer.length, Number(offset));
      return buffer;
    },
  };
  const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
  let count = 0;
  for await (const message of reader.readMessages()) {
    if (message.data.length >= 0) count += 1;
  }
  await handle.close();
  return count;
}

async function fieldloopIngest(): Promise<number> {
  const reader = await openRecording(file);
  try {
    const report = await ingestRecording(reader, { mapping: null, decoder: createMessageDecoder(), sink: null });
    if (report.losses.length > 0) throw new Error(`unexpected loss: ${report.losses[0]?.reason}`);
    return report.topics.reduce((sum, topic) => sum + topic.messages, 0);
  } finally {
    await reader.close();
  }
}

async function readOnly(): Promise<number> {
  const reader = await openRecording(file);
  let count = 0;
  try {
    for await (const message of reader.messages()) {
      if (message.data.length >= 0) count += 1;
    }
  } finally {
    await reader.close();
  }
  return count;
}

interface Result {
  name: string;
  run: () => Promise<number>;
  seconds: number[];
  messages: number;
}

const results: Result[] = [
  { name: 'plain @mcap/core read+decompress', run: plainMcap, seconds: [], messages: 0 },
  { name: 'fieldloop reader only (no decode)', run: readOnly, seconds: [], messages: 0 },
  { name: 'fieldloop ingest (read+decode, no mapping)', run: fieldloopIngest, seconds: [], messages: 0 },
];
for (const result of results) await result.run();
// Rounds alternate between the candidates, so machine noise hits all of them alike.
for (let i = 0; i < rounds; i += 1) {
  for (const result of results) {
    const start = performance.now();
    result.messages = await result.run();
    result.seconds.push((performance.now() - start) / 1000);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
console.log(`file: ${file} (${(bytes / 1e6).toFixed(2)} MB), ${rounds} rounds after one warm-up, median shown`);
for (const result of results) {
  const s = median(result.seconds);
  console.log(`${result.name.padEnd(44)} ${result.messages} msgs  ${(bytes / 1e6 / s).toFixed(1).padStart(7)} MB/s  ${Math.round(result.messages / s).toString().padStart(9)} msgs/s  (${(s * 1000).toFixed(0)} ms)`);
}
const ratio = median(results[0]?.seconds ?? []) / median(results[2]?.seconds ?? []);
console.log(`fieldloop ingest runs at ${(ratio * 100).toFixed(0)}% of the plain read (goal: at least 50%)`);
