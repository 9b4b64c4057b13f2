import type { CliCommand, CliResult, Split } from '@fieldloop/contracts';
import { SPLITS } from '@fieldloop/contracts';
import { DatasetStore } from '@fieldloop/dataset';
import { selectBackend } from '../backend/select-backend.ts';
import { loadSamples } from '../data/load-samples.ts';
import { baselineOutputs, evaluateOutputs, predictOutputs } from '../eval/evaluate-model.ts';
import { loadTeacher } from '../output/model-card.ts';
import { backendOption, optionalString, requiredString, snapshotRef } from './cli-options.ts';
import { formatMetricTable } from './format-metrics.ts';

/** `fieldloop evaluate`: runs a trained teacher on a snapshot split and reports per-head and per-tag metrics. */
export const evaluateCommand: CliCommand = {
  name: 'evaluate',
  summary: 'evaluate a trained teacher on a data set snapshot split, per head and per scenario tag',
  description:
    'Loads a teacher written by fieldloop train and computes, per head, precision, recall, F1 and support per class ' +
    'with micro, macro and weighted averages and the confusion matrix (classification and binary heads, with ROC-AUC ' +
    'for binary heads) or MAE, RMSE and R² in label units (regression heads), on the whole split and on each ' +
    "scenario tag's samples, next to the training split's trivial baselines.",
  arguments: '',
  options: [
    { flags: '--model <dir>', description: 'teacher directory (model.json and model-card.json)', required: true },
    { flags: '--store <dir>', description: 'data set store directory', required: true },
    { flags: '--snapshot <ref>', description: 'snapshot version, manifest hash or latest', defaultValue: 'latest' },
    { flags: '--split <name>', description: 'split to evaluate: train, val or test', defaultValue: 'val' },
    { flags: '--backend <name>', description: 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)' },
  ],
  async run(_args, options, context): Promise<CliResult> {
    const split = optionalString(options, 'split') ?? 'val';
    if (!(SPLITS as readonly string[]).includes(split)) throw new Error(`Invalid --split '${split}'. Use one of: ${SPLITS.join(', ')}.`);
    const backend = await selectBackend(backendOption(optionalString(options, 'backend')));
    context.log.info({ backend: backend.name, reason: backend.reason }, `backend: ${backend.name}`);
    const { model, card } = await loadTeacher(requiredString(options, 'model', '--model'));
    const store = await DatasetStore.open(requiredString(options, 'store', '--store'), { readOnly: true });
    try {
      const manifest = store.getSnapshot(snapshotRef(optionalString(options, 'snapshot')));
      const heads = card.heads.map((head) => head.name);
      const sampleOptions = { width: card.input.width, height: card.input.height, heads };
      const samples = await loadSamples(store, manifest.version, { ...sampleOptions, split: split as Split });
      const train = await loadSamples(store, manifest.version, { ...sampleOptions, split: 'train' });
      const report = evaluateOutputs(card.heads, samples, predictOutputs(model, samples, card.heads, card.input));
      const baseline = evaluateOutputs(card.heads, samples, baselineOutputs(card.heads, train, samples.length));
      model.dispose();
      const lines = [
        `snapshot v${manifest.version} ${split}: ${samples.length} samples, backend ${backend.name}`,
        ...formatMetricTable({ model: report.heads, baseline: baseline.heads }),
      ];
      for (const [tag, heads] of Object.entries(report.byTag)) {
        lines.push(`tag ${tag}:`, ...formatMetricTable({ model: heads }).map((line) => `  ${line}`));
      }
      return {
        exitCode: 0,
        summary: { snapshot: manifest.version, manifestHash: manifest.manifestHash, split, backend: backend.name, report, baseline },
        text: lines.join('\n'),
      };
    } finally {
      await store.close();
    }
  },
};
