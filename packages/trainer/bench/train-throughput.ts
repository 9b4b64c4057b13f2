// Training throughput and peak memory of the default teacher (configs/teacher.yaml) on the wasm
// and cpu backends, with the same model, batch and synthetic inputs. Each backend runs in its own
// child process so that peak RSS belongs to one backend.
//   node --import tsx bench/train-throughput.ts [--batch 8] [--wasm-steps 5] [--cpu-steps 1]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName } from '../src/backend/select-backend.ts';
import { buildTeacherModel } from '../src/model/build-teacher-model.ts';
import { multiTaskLoss, type HeadTargets, type LossHead } from '../src/model/multitask-loss.ts';
import { loadTeacherConfig } from '../src/model/teacher-config.ts';

interface Measurement {
  backend: string;
  batch: number;
  steps: number;
  firstStepSeconds: number;
  samplesPerSecond: number;
  peakRssMiB: number;
  peakTensorMiB: number;
  simd?: boolean;
  threads?: number;
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${process.argv[index + 1]}.`);
  return value;
}

const benchDir = dirname(fileURLToPath(import.meta.url));

async function measure(backendName: BackendName, batch: number, steps: number): Promise<Measurement> {
  const selection = await selectBackend(backendName);
  const config = await loadTeacherConfig(join(benchDir, '..', 'configs', 'teacher.yaml'));
  const heads: LossHead[] = config.heads.map((head) => ({
    name: head.name,
    kind: head.kind,
    role: head.role,
    weight: head.weight,
    loss: head.loss,
    huberDelta: head.huberDelta,
    ...(head.kind === 'classification' ? { classes: Array.from({ length: 43 }, (_, i) => String(i)) } : {}),
  }));
  const model = buildTeacherModel(config, heads);
  const optimizer = tf.train.adam(1e-3);
  const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const x = tf.randomNormal([batch, config.input.height, config.input.width, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const targets: Record<string, HeadTargets> = {};
  for (const head of heads) {
    const values = head.kind === 'classification' ? tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 43), 'int32') : tf.randomNormal([batch], 0, 1, 'float32', 2);
    targets[head.name] = { values: values as tf.Tensor1D, mask: tf.ones([batch]) as tf.Tensor1D };
  }
  let peakRss = process.memoryUsage().rss;
  let peakTensorBytes = tf.memory().numBytes;
  const step = async (): Promise<void> => {
    const { value, grads } = tf.variableGrads(() => {
      const outputs = model.apply(x, { training: true }) as tf.Tensor[];
      const loss = multiTaskLoss(heads, outputs, targets, { kind: 'fixed' }, 0.5).total;
      // The forward activations are all alive here, before the backward pass frees them.
      peakTensorBytes = Math.max(peakTensorBytes, tf.memory().numBytes);
      return loss;
    }, variables);
    peakTensorBytes = Math.max(peakTensorBytes, tf.memory().numBytes);
    optimizer.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  let started = performance.now();
  await step();
  const firstStepSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const seconds = (performance.now() - started) / 1000;
  const result: Measurement = {
    backend: selection.name,
    batch,
    steps,
    firstStepSeconds,
    samplesPerSecond: (batch * steps) / seconds,
    peakRssMiB: peakRss / 2 ** 20,
    peakTensorMiB: peakTensorBytes / 2 ** 20,
  };
  if (selection.wasm !== undefined) {
    result.simd = selection.wasm.simd;
    result.threads = selection.wasm.threadCount;
  }
  return result;
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  const backendName = process.argv[childIndex + 1] as BackendName;
  const result = await measure(backendName, argument('--batch', 8), argument('--steps', 1));
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const batch = argument('--batch', 8);
  const plan: Array<[BackendName, number]> = [
    ['wasm', argument('--wasm-steps', 5)],
    ['cpu', argument('--cpu-steps', 1)],
  ];
  const results: Measurement[] = [];
  for (const [backendName, steps] of plan) {
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', backendName, '--batch', String(batch), '--steps', String(steps)],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    const line = child.stdout.trim().split('\n').pop() ?? '';
    if (child.status !== 0 || !line.startsWith('{')) throw new Error(`The ${backendName} run failed (exit ${child.status}): ${child.stderr.slice(-2000)}`);
    results.push(JSON.parse(line) as Measurement);
  }
  console.log('default teacher (configs/teacher.yaml), synthetic inputs, both heads labelled; one warm-up step, then timed steps');
  console.log('backend  batch  steps  first step s  samples/s  peak RSS MiB  peak tensor MiB');
  for (const r of results) {
    console.log(
      `${r.backend.padEnd(7)}  ${String(r.batch).padStart(5)}  ${String(r.steps).padStart(5)}  ${r.firstStepSeconds.toFixed(2).padStart(12)}  ` +
        `${r.samplesPerSecond.toFixed(2).padStart(9)}  ${r.peakRssMiB.toFixed(0).padStart(12)}  ${r.peakTensorMiB.toFixed(1).padStart(16)}`,
    );
  }
  const wasm = results.find((r) => r.backend === 'wasm');
  const cpu = results.find((r) => r.backend === 'cpu');
  if (wasm !== undefined && cpu !== undefined) {
    console.log(`wasm / cpu throughput: ${(wasm.samplesPerSecond / cpu.samplesPerSecond).toFixed(1)}x (wasm SIMD ${wasm.simd}, threads ${wasm.threads})`);
  }
}
