import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliContext } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { describe, expect, it } from 'vitest';
import { evaluateCommand } from '../src/cli/evaluate-command.ts';
import { trainCommand } from '../src/cli/train-command.ts';
import type { EvaluationReport } from '../src/eval/evaluate-model.ts';
import { loadTeacher, type ModelCard } from '../src/output/model-card.ts';
import { createSyntheticStore, syntheticSamples } from './helpers/synthetic-store.ts';

const context: CliContext = {
  log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  progress: () => ({ update: () => {}, stop: () => {} }),
};

const config = {
  input: { width: 16, height: 16 },
  backbone: { stemChannels: 8, stages: [{ channels: 8, blocks: 1, stride: 1 }, { channels: 16, blocks: 1, stride: 2 }] },
  heads: [
    { name: 'steering', kind: 'regression', flip: 'negate' },
    { name: 'sign', kind: 'classification', flip: 'forbid' },
  ],
  loss: { weighting: 'uncertainty' },
  training: { epochs: 3, batchSize: 16, patience: 0, sampling: 'equal', learningRate: 0.005 },
};

describe('train and evaluate commands', () => {
  it('train, evaluate and fine-tune', async () => {
    const { dir: storeDir, store } = await createSyntheticStore();
    await store.close();
    const work = await mkdtemp(join(tmpdir(), 'trainer-cli-'));
    const configPath = join(work, 'teacher.json');
    await writeFile(configPath, JSON.stringify(config));
    const outDir = join(work, 'teacher');

    const trained = await trainCommand.run([], { store: storeDir, config: configPath, out: outDir, backend: 'wasm' }, context);
    expect(trained.exitCode).toBe(0);
    expect(trained.text).toContain('baseline');
    const card = JSON.parse(await readFile(join(outDir, 'model-card.json'), 'utf8')) as ModelCard;
    expect(card.heads.map((h) => h.name)).toEqual(['steering', 'sign']);
    expect(card.heads[1]?.classes).toEqual(['0', '1', '2']);
    expect(card.heads[0]?.normalization?.std).toBeGreaterThan(0);
    expect(card.data.manifestHash).toMatch(/^[0-9a-f]{64}$/);
    expect(card.backend.name).toBe('wasm');
    expect(Object.keys(card.training.logVariances ?? {})).toEqual(['steering', 'sign']);
    expect(card.metrics.sign?.baseline.macroF1).toBeTypeOf('number');
    expect((await stat(join(outDir, 'weights.bin'))).size).toBeGreaterThan(1000);

    const teacher = await loadTeacher(outDir);
    expect(teacher.model.outputNames).toEqual(['steering', 'sign']);
    teacher.model.dispose();

    const evaluated = await evaluateCommand.run([], { model: outDir, store: storeDir, snapshot: '1', split: 'val', backend: 'wasm' }, context);
    const report = (evaluated.summary as { report: EvaluationReport }).report;
    expect(report.heads.sign?.kind).toBe('classification');
    expect(report.heads.steering?.kind).toBe('regression');
    expect(Object.keys(report.byTag)).toEqual(['night']);
    expect(report.byTag.night?.sign?.kind === 'classification' ? report.byTag.night.sign.count : -1).toBe(0);

    const writer = await DatasetStore.open(storeDir, { fsync: false });
    await writer.createSnapshot({ note: 'field round', samples: syntheticSamples({ signs: 30, steering: 30, offset: 1000 }) });
    await writer.close();
    const fineOut = join(work, 'round2');
    const tuned = await trainCommand.run([], { store: storeDir, from: outDir, out: fineOut, replay: '0.5', epochs: '2', backend: 'wasm' }, context);
    const summary = tuned.summary as { fineTune: { trainNew: number; trainReplay: number; newSamples: EvaluationReport; earlierSamples: EvaluationReport } };
    expect(summary.fineTune.trainReplay).toBe(summary.fineTune.trainNew);
    expect(summary.fineTune.newSamples.samples).toBeGreaterThan(0);
    expect(summary.fineTune.earlierSamples.samples).toBeGreaterThan(0);
    expect(tuned.text).toContain('new:');

    const widerPath = join(work, 'wider.json');
    await writeFile(widerPath, JSON.stringify({ ...config, backbone: { ...config.backbone, stemChannels: 12 } }));
    await expect(
      trainCommand.run([], { store: storeDir, from: outDir, config: widerPath, out: join(work, 'wider'), backend: 'wasm' }, context),
    ).rejects.toThrow('do not fit the model built from the config');
  });

  it('rejects an invalid backend option', async () => {
    await expect(trainCommand.run([], { store: '/x', config: '/y', out: '/z', backend: 'gpu' }, context)).rejects.toThrow("Invalid --backend 'gpu'");
  });

  it('rejects a missing store option', async () => {
    await expect(trainCommand.run([], { config: '/y', out: '/z' }, context)).rejects.toThrow('Missing --store');
  });
});
