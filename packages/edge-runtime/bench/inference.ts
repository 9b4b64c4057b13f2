/**
 * Inference benchmark: sustained fps, latency percentiles, and live tensors / heap over many
 * inferences, for a small two-head conv student (tfjs on tfjs-wasm and tfjs-cpu, and the same
 * student exported to TFLite on LiteRT.js and tfjs-tflite) and for the hello_world TFLite model
 * from the shared data.
 *
 *   node --import tsx bench/inference.ts [--count N] [--tflite FILE]
 *
 * --count sets the inferences per engine (default 5000, about a minute in all on a 2-core
 * machine); pass --count 100000 for the long memory soak. --tflite adds a .tflite model of your
 * own (a fixed-shape float32 student from distill) to the LiteRT.js and tfjs-tflite runs.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { findSharedData } from '@fieldloop/contracts';
import { readModelFiles, type ModelFiles } from '../src/bundle/bundle-files.ts';
import { zeroInput, type InferenceEngine } from '../src/engines/engine.ts';
import { LiteRtEngine } from '../src/engines/litert-engine.ts';
import { saveTfjsModel } from '../src/engines/save-tfjs-model.ts';
import { TfjsEngine } from '../src/engines/tfjs-engine.ts';
import { TfjsTfliteEngine } from '../src/engines/tfjs-tflite-engine.ts';
import { exportTflite } from '@fieldloop/distill';
import { percentile } from '../src/inference/runtime-metrics.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '5000' }, tflite: { type: 'string' } } });
const count = Number(values.count);
if (!Number.isInteger(count) || count < 100) throw new Error(`--count must be an integer of at least 100, got ${values.count}`);

/** Builds a student-sized conv net: 64x64x3 input, three conv blocks, a 5-class head and a regression head. */
function buildStudent(): tf.LayersModel {
  const input = tf.input({ shape: [64, 64, 3] });
  let x = input as tf.SymbolicTensor;
  for (const filters of [8, 16, 32]) {
    x = tf.layers.conv2d({ filters, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const sign = tf.layers.dense({ units: 5, name: 'sign' }).apply(x) as tf.SymbolicTensor;
  const steering = tf.layers.dense({ units: 1, name: 'steering' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [sign, steering] });
}

interface Row {
  engine: string;
  model: string;
  fps: number;
  p50: number;
  p99: number;
  heapStartMb: number;
  heapEndMb: number;
  tensorsStart: number;
  tensorsEnd: number;
}

/** Returns heapUsed in MiB, after a full collection when node runs with --expose-gc. */
function heapMb(): number {
  global.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/**
 * Runs `count` inferences and samples heap and live tensors at 5 checkpoints. The first
 * checkpoint (after 20% of the runs) is the baseline, so one-time growth while the engine
 * warms up is not counted as drift.
 */
async function measure(engine: InferenceEngine, files: ModelFiles, model: string): Promise<Row> {
  const loaded = await engine.load(files);
  const input = zeroInput(loaded.inputs[0]!);
  for (let i = 0; i < 50; i += 1) await loaded.run(input);
  const latencies = new Float64Array(count);
  const heap: number[] = [];
  const tensors: number[] = [];
  const checkpoint = Math.ceil(count / 5);
  let busyMs = 0;
  for (let i = 0; i < count; i += 1) {
    const t0 = performance.now();
    await loaded.run(input);
    latencies[i] = performance.now() - t0;
    busyMs += latencies[i]!;
    if ((i + 1) % checkpoint === 0 || i + 1 === count) {
      heap.push(heapMb());
      tensors.push(loaded.liveTensors());
    }
  }
  const sorted = Array.from(latencies);
  const row: Row = {
    engine: engine.name,
    model,
    fps: count / (busyMs / 1000),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    heapStartMb: heap[0]!,
    heapEndMb: heap.at(-1)!,
    tensorsStart: tensors[0]!,
    tensorsEnd: tensors.at(-1)!,
  };
  loaded.dispose();
  return row;
}

const work = await mkdtemp(join(tmpdir(), 'edge-bench-'));
const rows: Row[] = [];
try {
  const studentModel = buildStudent();
  const modelPath = await saveTfjsModel(studentModel, join(work, 'student'));
  const student = (await readModelFiles(modelPath, 'tfjs')).files;
  for (const engine of [new TfjsEngine('wasm'), new TfjsEngine('cpu')]) rows.push(await measure(engine, student, 'student 64x64 conv (tfjs)'));

  // The same student exported by distill's TFLite writer, so every engine runs one model.
  const tfliteModels: [string, Uint8Array][] = [['student 64x64 conv (tflite)', exportTflite(studentModel)]];
  studentModel.dispose();
  const shared = findSharedData();
  if (shared) tfliteModels.push(['hello_world_float', new Uint8Array(await readFile(join(shared, 'models', 'hello_world_float.tflite')))]);
  else console.warn('shared data not found: no TFLite model for LiteRT.js and tfjs-tflite; pass --tflite FILE');
  if (values.tflite) tfliteModels.push([values.tflite, new Uint8Array(await readFile(values.tflite))]);
  for (const [name, bytes] of tfliteModels) {
    rows.push(await measure(new LiteRtEngine(), { format: 'tflite', bytes }, name));
    rows.push(await measure(new TfjsTfliteEngine(), { format: 'tflite', bytes }, name));
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

console.log(`\n${count} inferences per engine, batch 1, Node ${process.version}, ${process.arch}; fps = runs / time inside run()${global.gc ? '; heap after a full gc' : '; run node with --expose-gc for heap after gc'}\n`);
const header = ['engine', 'model', 'fps', 'p50 ms', 'p99 ms', 'heap at 20% MiB', 'heap at end MiB', 'tensors at 20%', 'tensors at end'];
const table = rows.map((row) => [
  row.engine,
  row.model,
  row.fps.toFixed(0),
  row.p50.toFixed(3),
  row.p99.toFixed(3),
  row.heapStartMb.toFixed(1),
  row.heapEndMb.toFixed(1),
  String(row.tensorsStart),
  String(row.tensorsEnd),
]);
const widths = header.map((title, column) => Math.max(title.length, ...table.map((line) => line[column]!.length)));
for (const line of [header, ...table]) console.log(line.map((cell, column) => cell.padEnd(widths[column]!)).join('  '));
