import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BundleManifest, CliCommand, CliContext, CliResult } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { loadMapping, runIngest } from '@fieldloop/ros-bridge';
import { evaluateCommand as evaluateTeacherCommand } from '@fieldloop/trainer';
import { projectPaths } from '../project/project-paths.ts';
import { readReleases } from '../project/release-registry.ts';
import { evaluateExportedModel } from './evaluate-exported-model.ts';

/**
 * Finds the bundle of a path: a bundle directory, or the newest release of a project directory
 * (the Nx round targets' `--dir`, the `--out` of `fieldloop loop`).
 */
async function findBundle(path: string): Promise<string | null> {
  if (existsSync(join(path, 'manifest.json'))) return path;
  const newest = (await readReleases(projectPaths(path))).at(-1);
  return newest ? newest.bundleDir : null;
}

async function storeFromOptions(options: Record<string, unknown>, context: CliContext): Promise<{ storeDir: string; snapshot: number; cleanup: () => Promise<void> }> {
  if (typeof options.data === 'string') {
    if (typeof options.mapping !== 'string') throw new Error('--data needs --mapping: pass the mapping file that turns its topics or label columns into samples');
    const storeDir = await mkdtemp(join(tmpdir(), 'fieldloop-evaluate-'));
    const result = await runIngest({ paths: [resolve(options.data)], storeDir, mapping: await loadMapping(resolve(options.mapping)), allowPartial: false, msgPaths: [], note: 'fieldloop evaluate' });
    if (!result.snapshot) {
      await rm(storeDir, { recursive: true, force: true });
      throw new Error(`ingest of ${options.data} failed: ${result.problems.join(' ')}`);
    }
    context.log.info({ samples: result.snapshot.stats.samples }, `ingested ${options.data} into a temporary store`);
    return { storeDir, snapshot: result.snapshot.version, cleanup: () => rm(storeDir, { recursive: true, force: true }) };
  }
  if (typeof options.store !== 'string') throw new Error('pass --data PATH with --mapping FILE, or --store DIR');
  const store = await DatasetStore.open(resolve(options.store), { readOnly: true });
  try {
    const ref = typeof options.snapshot === 'string' && options.snapshot !== 'latest' ? Number(options.snapshot) : 'latest';
    return { storeDir: resolve(options.store), snapshot: store.getSnapshot(ref).version, cleanup: async () => undefined };
  } finally {
    await store.close();
  }
}

/**
 * `fieldloop evaluate`: scores a published bundle, a loop run's newest bundle, or a teacher, on a
 * recording or image folder ingested on the fly, or on a store snapshot.
 */
export const evaluateCommand: CliCommand = {
  name: 'evaluate',
  summary: 'score a bundle, a project\'s newest release or a teacher on a recording, image folder or snapshot, per head and scenario tag',
  description:
    'With a bundle (a directory with manifest.json) or a project directory (its newest release), runs the ' +
    'exported model file itself at batch 1 and reports per head accuracy or MAE, per scenario tag, latency and size. ' +
    'With a teacher directory (model-card.json), reports the trainer\'s full metrics. --data ingests a recording or ' +
    'image folder with --mapping into a temporary store first; --store scores a snapshot of an existing store.',
  arguments: '',
  options: [
    { flags: '--model <path>', description: 'bundle directory, project directory (--dir of the Nx round targets, --out of fieldloop loop) or teacher directory', required: true },
    { flags: '--data <path>', description: 'recording or image folder to score on, ingested with --mapping' },
    { flags: '--mapping <file>', description: 'mapping file for --data' },
    { flags: '--store <dir>', description: 'data set store to score on, instead of --data' },
    { flags: '--snapshot <ref>', description: 'snapshot version or latest, with --store', defaultValue: 'latest' },
    { flags: '--split <name>', description: 'split to score: train, val, test (the default with --store) or all (the default with --data)' },
    { flags: '--backend <name>', description: 'tfjs backend for teachers: tfjs-node-gpu, tfjs-node, wasm or cpu' },
  ],
  async run(args, options, context): Promise<CliResult> {
    const model = resolve(String(options.model));
    if (!existsSync(model)) throw new Error(`--model ${model} not found; pass a bundle directory, a project directory, or a teacher directory`);
    const bundle = await findBundle(model);
    const source = await storeFromOptions(options, context);
    try {
      const split = String(options.split ?? (typeof options.data === 'string' ? 'all' : 'test'));
      if (!['train', 'val', 'test', 'all'].includes(split)) throw new Error(`--split must be train, val, test or all, got ${split}`);
      if (!bundle) {
        if (!existsSync(join(model, 'model-card.json'))) {
          throw new Error(`${model} is neither a bundle (manifest.json), a project directory with a published release, nor a teacher (model-card.json)`);
        }
        if (split === 'all') throw new Error('a teacher is scored on one split: pass --split train, val or test');
        return evaluateTeacherCommand.run(args, { ...options, model, store: source.storeDir, snapshot: String(source.snapshot), split }, context);
      }
      const manifest = JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')) as BundleManifest;
      if (manifest.model.format !== 'tflite') throw new Error(`${bundle} contains a ${manifest.model.format} model, but evaluate scores only .tflite bundles; export the model with fieldloop export`);
      const scores = await evaluateExportedModel({
        file: join(bundle, manifest.model.file),
        label: `${manifest.name} v${manifest.version}`,
        heads: manifest.heads,
        input: manifest.input,
        storeDir: source.storeDir,
        snapshot: source.snapshot,
        split: split as 'train' | 'val' | 'test' | 'all',
      });
      const evaluation = scores.evaluation;
      if (Object.keys(evaluation.heads).length === 0) {
        const heads = manifest.heads.map((head) => (head.classes === undefined ? head.name : `${head.name} (classes ${head.classes.join(', ')})`)).join('; ');
        throw new Error(
          `no sample of snapshot v${source.snapshot} (${split}) has a label that ${manifest.name} v${manifest.version} can score: its heads are ${heads}. ` +
            'Score it on data whose mapping labels these heads with these class names.',
        );
      }
      const lines = [`${evaluation.label} on snapshot v${source.snapshot} (${split}): p50 ${evaluation.latencyMs.p50.toFixed(2)} ms, p99 ${evaluation.latencyMs.p99.toFixed(2)} ms, ${evaluation.sizeBytes} bytes`];
      for (const head of Object.values(evaluation.heads)) {
        lines.push(`  ${head.head} ${head.metric.name} ${head.metric.value.toFixed(4)} on ${head.support} samples`);
        for (const [tag, slice] of Object.entries(head.slices)) lines.push(`    ${tag}: ${slice.value.toFixed(4)} (${slice.support})`);
      }
      return { exitCode: 0, summary: { bundle, snapshot: source.snapshot, split, evaluation, confusion: scores.confusion }, text: lines.join('\n') };
    } finally {
      await source.cleanup();
    }
  },
};
