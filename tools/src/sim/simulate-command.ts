import type { CliCommand, CliResult } from '@fieldloop/contracts';
import { generateSimData } from './generate-sim-data.ts';

function positiveInteger(value: unknown, option: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new Error(`${option} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return number;
}

/** `fieldloop simulate`: writes the built-in procedural data set. */
export const simulateCommand: CliCommand = {
  name: 'simulate',
  summary: 'write procedurally drawn drives (rosbag2 MCAP bags) and traffic-sign crops',
  description:
    'Writes a built-in data set that needs nothing outside the repository: drives as rosbag2 MCAP bag ' +
    'directories under OUT/drives (camera frames at 10 Hz, steering angle in degrees with time jitter, ' +
    'scenario status) and sign crops under OUT/signs with labels.csv. Ingest them with ' +
    'configs/mappings/sim-drive.yaml and configs/mappings/sim-signs.yaml. The same seed gives the same files.',
  arguments: '',
  options: [
    { flags: '--out <dir>', description: 'output directory (its drives/ and signs/ are replaced)', required: true },
    { flags: '--drives <count>', description: 'number of drives; odd-numbered drives are at night', defaultValue: '2' },
    { flags: '--frames <count>', description: 'frames per drive (10 frames per second)', defaultValue: '150' },
    { flags: '--signs-per-class <count>', description: 'sign crops per class (6 classes)', defaultValue: '40' },
    { flags: '--seed <integer>', description: 'seed of the generator', defaultValue: '1' },
  ],
  async run(_args, options, context): Promise<CliResult> {
    const out = String(options.out);
    context.log.info({ out }, 'generating the procedural data set');
    const result = await generateSimData({
      out,
      drives: positiveInteger(options.drives, '--drives'),
      frames: positiveInteger(options.frames, '--frames'),
      signsPerClass: positiveInteger(options.signsPerClass, '--signs-per-class'),
      seed: Number.parseInt(String(options.seed), 10) || 1,
    });
    const text = [
      ...result.drives.map((drive) => `drive: ${drive}`),
      `signs: ${result.signs} (${result.signCrops} crops)`,
      `${result.frames} frames in ${result.drives.length} drives`,
    ].join('\n');
    return { exitCode: 0, summary: result, text };
  },
};
