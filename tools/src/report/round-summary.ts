import type { RoundRecord } from './loop-report.ts';

/** Formats one line per round: the candidate's metric per head and the gate's verdict with its reasons. */
export function roundLine(round: RoundRecord): string {
  const heads = Object.values(round.candidate.heads).map((h) => `${h.head} ${h.metric.name} ${h.metric.value.toFixed(3)}`).join(', ');
  const verdict = round.gate.publish ? `published v${round.publishedVersion}` : `blocked: ${round.gate.reasons.join('; ')}`;
  return `round ${round.round} (snapshot v${round.snapshot.version}, ${round.durationSeconds.toFixed(0)} s): ${heads}; ${verdict}`;
}

/** Returns the numbers `--json` prints for a round. */
export function roundSummary(round: RoundRecord): Record<string, unknown> {
  const metrics = (heads: RoundRecord['candidate']['heads']): Record<string, Record<string, number>> =>
    Object.fromEntries(Object.values(heads).map((h) => [h.head, { [h.metric.name]: h.metric.value }]));
  return {
    round: round.round,
    snapshot: round.snapshot.version,
    metrics: metrics(round.candidate.heads),
    deployed: round.deployed ? metrics(round.deployed.heads) : null,
    gate: { publish: round.gate.publish, reasons: round.gate.reasons },
    publishedVersion: round.publishedVersion,
    fieldSamples: round.fieldSamples,
    fleetVersions: round.fleetVersions,
  };
}
