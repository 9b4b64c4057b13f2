import type { CliCommand, CliResult } from '@fieldloop/contracts';
import { runTraining } from '../train/run-training.ts';
import { backendOption, numberOption, optionalString, requiredString, snapshotRef } from './cli-options.ts';
import { formatMetricTable } from './format-metrics.ts';

/** `fieldloop train`: trains the multi-task teacher on a data set snapshot, or fine-tunes one with --from. */
export const trainCommand: CliCommand = {
  name: 'train',
  summary: 'train the multi-task teacher on a data set snapshot, or fine-tune a teacher on new field data',
  description:
    'Trains one tfjs model with a shared convolutional backbone and the heads declared in --config on a snapshot of ' +
    'the data set store. Samples without a label for a head are masked out of that head. Writes model.json, ' +
    'weights.bin (best validation epoch), model-card.json, metrics.jsonl and a checkpoint into --out; running the ' +
    'same command again after a kill resumes from the last completed epoch. With --from it fine-tunes that teacher ' +
    "on the snapshot's newest samples mixed with a --replay share of earlier ones, and reports both slices.",
  arguments: '',
  options: [
    { flags: '--store <dir>', description: 'data set store directory', required: true },
    { flags: '--snapshot <ref>', description: 'snapshot version, manifest hash or latest', defaultValue: 'latest' },
    { flags: '--config <file>', description: 'teacher config (YAML or JSON); defaults to the --from teacher\'s config' },
    { flags: '--out <dir>', description: 'output directory for the model, its card, the metrics log and the checkpoint', required: true },
    { flags: '--backend <name>', description: 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)' },
    { flags: '--from <dir>', description: 'teacher directory to fine-tune instead of training from scratch' },
    { flags: '--replay <share>', description: 'share of earlier samples in the fine-tuning set, 0 to 0.9 (with --from)', defaultValue: '0.3' },
    { flags: '--epochs <n>', description: 'number of epochs, overriding the config' },
  ],
  async run(_args, options, context): Promise<CliResult> {
    const backend = backendOption(optionalString(options, 'backend'));
    const epochs = numberOption(optionalString(options, 'epochs'), '--epochs', (n) => Number.isInteger(n) && n > 0, 'a positive integer');
    const replay = numberOption(optionalString(options, 'replay'), '--replay', (n) => n >= 0 && n <= 0.9, 'a share from 0 to 0.9');
    const fromDir = optionalString(options, 'from');
    const configPath = optionalString(options, 'config');
    const result = await runTraining({
      storeDir: requiredString(options, 'store', '--store'),
      snapshot: snapshotRef(optionalString(options, 'snapshot')),
      outDir: requiredString(options, 'out', '--out'),
      log: context.log,
      progress: (label, unit, total) => context.progress(label, unit, total),
      ...(configPath === undefined ? {} : { configPath }),
      ...(backend === undefined ? {} : { backend }),
      ...(fromDir === undefined ? {} : { fromDir }),
      ...(replay === undefined ? {} : { replay }),
      ...(epochs === undefined ? {} : { epochs }),
    });
    const { card } = result;
    const lines = [
      `backend: ${result.backend.name} (${result.backend.reason})`,
      `snapshot v${card.data.snapshotVersion} ${card.data.manifestHash}: train ${card.data.samples.train}, val ${card.data.samples.val}`,
      `epochs ${card.training.epochs} (best ${card.training.bestEpoch}${card.training.stoppedEarly ? ', stopped early' : ''}), ${card.training.seconds} s`,
      'validation (best epoch) vs trivial baseline:',
      ...formatMetricTable({ model: result.validation.heads, baseline: result.baseline.heads }).map((line) => `  ${line}`),
    ];
    if (result.fineTune !== undefined) {
      lines.push(`fine-tuned on ${result.fineTune.trainNew} new + ${result.fineTune.trainReplay} replayed samples; validation by slice:`);
      lines.push(...formatMetricTable({ new: result.fineTune.newSamples.heads, earlier: result.fineTune.earlierSamples.heads }).map((line) => `  ${line}`));
    }
    return { exitCode: 0, summary: { card, fineTune: result.fineTune ?? null, history: result.training.history }, text: lines.join('\n') };
  },
};
