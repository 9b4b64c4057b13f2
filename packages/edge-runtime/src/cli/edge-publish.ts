import type { CliContext, CliResult } from '@fieldloop/contracts';
import { assertFleetId } from '@fieldloop/contracts';
import mqtt from 'mqtt';
import { publishBundle } from '../ota/publish-bundle.ts';

/** `edge publish`: announces a bundle to a fleet (retained), optionally to a canary subset, and follows the reports. */
export async function runPublish(options: Record<string, unknown>, context: CliContext): Promise<CliResult> {
  const bundleDir = typeof options.bundle === 'string' ? options.bundle : null;
  const fleet = typeof options.fleet === 'string' ? options.fleet : null;
  const broker = typeof options.broker === 'string' ? options.broker : null;
  if (!bundleDir || !fleet || !broker) throw new Error('edge publish needs --bundle <dir>, --fleet <id> and --broker <url>');
  assertFleetId('fleet', fleet);
  const robots = typeof options.robots === 'string' ? options.robots.split(',').filter(Boolean) : undefined;
  const percentage = typeof options.percentage === 'string' ? Number(options.percentage) : undefined;
  if (percentage !== undefined && !(percentage >= 0 && percentage <= 100)) throw new Error(`--percentage must be 0 to 100, got ${String(options.percentage)}`);
  const waitSeconds = typeof options.wait === 'string' ? Number(options.wait) : 0;
  const client = await mqtt.connectAsync(broker, { protocolVersion: options.mqttVersion === '4' ? 4 : 5 });
  try {
    const rollout = await publishBundle({
      client,
      fleet,
      bundleDir,
      robots,
      percentage,
      stopAboveFailedShare: typeof options.stopAbove === 'string' ? Number(options.stopAbove) : undefined,
      log: context.log,
    });
    if (waitSeconds > 0 && robots) await rollout.settled(robots, waitSeconds * 1000).catch((error: Error) => context.log.warn({}, error.message));
    else if (waitSeconds > 0) await new Promise((resolve) => setTimeout(resolve, waitSeconds * 1000));
    await rollout.close();
    const outcomes = Object.fromEntries([...rollout.outcomes].map(([robot, report]) => [robot, report.outcome]));
    return {
      exitCode: rollout.stopped ? 2 : 0,
      summary: { rollout: rollout.announcement.rollout, version: rollout.announcement.manifest.version, stopped: rollout.stopped, outcomes },
      text: `published ${rollout.announcement.manifest.name} v${rollout.announcement.manifest.version} (rollout ${rollout.announcement.rollout.id})` +
        `${rollout.stopped ? ', STOPPED: too many robots failed' : ''}\n` +
        Object.entries(outcomes).map(([robot, outcome]) => `  ${robot}: ${outcome}`).join('\n'),
    };
  } finally {
    await client.endAsync();
  }
}
