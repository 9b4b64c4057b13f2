// Batch-1 latency (p50, p99) of a student and a teacher-sized model on LiteRT.js, tfjs-tflite and
// tfjs (wasm backend), side by side. Run: npx nx run distill:bench (or node --import tsx bench/latency.ts).
import type { HeadSpec, InputSpec } from '@fieldloop/contracts';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildStudent, exportTflite, loadTfliteModel, type TfliteEngine } from '../src/index.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 100);
const heads: HeadSpec[] = [
  { name: 'sign', kind: 'classification', role: 'primary', weight: 1, classes: Array.from({ length: 43 }, (_, i) => `c${i}`) },
  { name: 'steering', kind: 'regression', role: 'primary', weight: 1 },
];
const input: InputSpec = { width: 64, height: 64, channels: 3, layout: 'NHWC', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function time(run: () => Promise<void>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 5; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function benchModel(label: string, model: tf.LayersModel, int8Calibration: tf.Tensor[]): Promise<void> {
  const x = tf.randomUniform([1, input.height, input.width, 3], -1, 1, 'float32', 1);
  const feed = Float32Array.from(x.dataSync());
  const files: Array<[string, Uint8Array]> = [
    ['float32', exportTflite(model)],
    ['int8', exportTflite(model, { calibration: int8Calibration })],
  ];
  for (const [kind, bytes] of files) {
    for (const engine of ['litert', 'tfjs-tflite'] as TfliteEngine[]) {
      const loaded = await loadTfliteModel(bytes, engine);
      const name = loaded.inputs[0]!.name;
      const r = await time(async () => {
        await loaded.run({ [name]: feed });
      });
      console.log(`${label.padEnd(8)} ${String(model.countParams()).padStart(9)} ${`${engine} ${kind}`.padEnd(22)} ${String(bytes.length).padStart(9)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`);
      loaded.close();
    }
  }
  const r = await time(async () => {
    const out = model.predict(x) as tf.Tensor[];
    for (const t of out) {
      await t.data();
      t.dispose();
    }
  });
  console.log(`${label.padEnd(8)} ${String(model.countParams()).padStart(9)} ${`tfjs ${tf.getBackend()}`.padEnd(22)} ${'-'.padStart(9)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(8)}`);
}

await tf.setBackend('wasm');
await tf.ready();
const calibration = Array.from({ length: 8 }, (_, i) => tf.randomUniform([1, input.height, input.width, 3], -1, 1, 'float32', 10 + i));
console.log(`batch-1 latency over ${RUNS} runs, ${input.width}x${input.height} input, Node ${process.version}, tfjs backend ${tf.getBackend()}`);
console.log(`${'model'.padEnd(8)} ${'params'.padStart(9)} ${'runtime'.padEnd(22)} ${'bytes'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
await benchModel('student', buildStudent(heads, input, { widthMultiplier: 0.5 }), calibration);
await benchModel('teacher', buildStudent(heads, input, { widthMultiplier: 2 }), calibration);
