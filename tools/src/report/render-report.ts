import type { LoopReport, RoundRecord } from './loop-report.ts';
import { barChart, confusionMatrix, escapeHtml, histogram, lineChart } from './svg-charts.ts';

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1140px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; } h3 { font-size: 15px; }
figure { display: inline-block; margin: 8px 16px 8px 0; vertical-align: top; }
figcaption { font-size: 12px; color: #444; max-width: 520px; }
.key { margin-left: 8px; white-space: nowrap; } .key i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; font-size: 13px; }
.pass { color: #176317; } .fail { color: #a11; font-weight: 600; }
`;

/** Formats a number, or a dash where it was not measured. */
function show(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function metricsTable(round: RoundRecord): string {
  const models = [round.teacher, round.deployed, round.candidate].filter((m) => m !== null);
  const heads = Object.keys(round.candidate.heads);
  const header = `<tr><th>head</th><th>metric</th>${models.map((m) => `<th>${escapeHtml(m.label)}</th>`).join('')}</tr>`;
  const rows = heads.map((head) => {
    const metric = round.candidate.heads[head]?.metric;
    const cells = models.map((m) => `<td>${m.heads[head] ? show(m.heads[head].metric.value, 4) : '-'}</td>`).join('');
    return `<tr><td>${escapeHtml(head)}</td><td>${escapeHtml(metric?.name ?? '')}${metric?.higherIsBetter ? ' ↑' : ' ↓'}</td>${cells}</tr>`;
  });
  const budget = `<tr><td>all</td><td>p50 / p99 latency (ms)</td>${models.map((m) => `<td>${show(m.latencyMs.p50, 2)} / ${show(m.latencyMs.p99, 2)}</td>`).join('')}</tr>` +
    `<tr><td>all</td><td>file size (bytes)</td>${models.map((m) => `<td>${show(m.sizeBytes, 0)}</td>`).join('')}</tr>`;
  return `<table>${header}${rows.join('')}${budget}</table>`;
}

function gateTable(round: RoundRecord): string {
  const verdict = round.gate.publish
    ? `<p class="pass">Published as version ${round.publishedVersion ?? '-'}.</p>`
    : '<p class="fail">Blocked: the fleet stays on the deployed model.</p>';
  const fleet = Object.entries(round.fleetVersions)
    .map(([robot, version]) => `${escapeHtml(robot)}: ${version === null ? 'no model' : `v${version}`}`)
    .join(', ');
  const rows = round.gate.checks.map((check) =>
    `<tr><td class="${check.passed ? 'pass' : 'fail'}">${check.passed ? 'pass' : 'FAIL'}</td><td>${escapeHtml(check.check)}</td>` +
      `<td>${escapeHtml(check.detail)}</td></tr>`,
  );
  return `${verdict}<p>Fleet after the round: ${fleet || 'no robots'}.</p><table><tr><th>result</th><th>check</th><th>detail</th></tr>${rows.join('')}</table>`;
}

function roundSection(round: RoundRecord): string {
  const stats = round.snapshot.stats;
  const parts = [
    `<h2>Round ${round.round}</h2>`,
    `<p>Started ${escapeHtml(round.startedAt)}, ${round.durationSeconds.toFixed(1)} s. Data set snapshot v${round.snapshot.version} ` +
      `<code>${escapeHtml(round.snapshot.manifestHash.slice(0, 16))}</code>: ${stats.samples} samples ` +
      `(train ${stats.perSplit.train}, val ${stats.perSplit.val}, test ${stats.perSplit.test}).</p>`,
    '<h3>Gate decision</h3>',
    gateTable(round),
    '<h3>Metrics</h3>',
    metricsTable(round),
    '<h3>Training</h3>',
    Object.keys(round.teacherLoss).length > 0 ? lineChart(`round ${round.round}: teacher loss per head`, round.teacherLoss, 'epoch') : '',
    Object.keys(round.studentLoss).length > 0 ? lineChart(`round ${round.round}: student distillation loss per head`, round.studentLoss, 'epoch') : '',
    '<h3>Data set composition</h3>',
    barChart(`round ${round.round}: samples per source`, stats.perSource, 'source'),
    Object.keys(stats.perTag).length > 0 ? barChart(`round ${round.round}: samples per scenario tag`, stats.perTag, 'tag') : '',
    Object.keys(round.fieldSamples).length > 0 ? barChart(`round ${round.round}: field samples per robot`, round.fieldSamples, 'robot') : '',
    '<h3>Confusion matrices (candidate)</h3>',
    ...Object.entries(round.confusion).map(([head, m]) => confusionMatrix(`round ${round.round}: ${head}`, m.classes, m.matrix)),
    '<h3>Latency</h3>',
    Object.keys(round.latencySamplesMs).length > 0 ? histogram(`round ${round.round}: batch-1 latency per engine`, round.latencySamplesMs, 'milliseconds') : '',
  ];
  return parts.filter((part) => part !== '').join('\n');
}

/**
 * Builds one round-over-round chart per head: the candidate's, deployed model's and teacher's
 * metric. A round without the head leaves a gap, so every point stays above its round's tick.
 * Each tick gives the number of test samples behind that round's points, because every round
 * is scored on the test split of its own snapshot.
 */
function metricsOverRounds(report: LoopReport): string {
  const charts = new Map<string, { series: { candidate: number[]; deployed: number[]; teacher: number[] }; ticks: string[] }>();
  const rounds = report.rounds.map((round) => String(round.round));
  report.rounds.forEach((round, index) => {
    for (const [head, evaluation] of Object.entries(round.candidate.heads)) {
      const key = `${head} ${evaluation.metric.name}${evaluation.metric.higherIsBetter ? ' (higher is better)' : ' (lower is better)'}`;
      const gap = () => new Array<number>(rounds.length).fill(Number.NaN);
      const chart = charts.get(key) ?? { series: { candidate: gap(), deployed: gap(), teacher: gap() }, ticks: [...rounds] };
      chart.series.candidate[index] = evaluation.metric.value;
      chart.series.deployed[index] = round.deployed?.heads[head]?.metric.value ?? Number.NaN;
      chart.series.teacher[index] = round.teacher?.heads[head]?.metric.value ?? Number.NaN;
      chart.ticks[index] = `${round.round} (n=${evaluation.support})`;
      charts.set(key, chart);
    }
  });
  if (charts.size === 0) return '';
  const caption =
    '<p>Each round is scored on the test split of its own snapshot, of n samples, so points of different rounds ' +
    'compare only roughly. The gate compares the candidate and the deployed model on the same split.</p>';
  return [caption, ...[...charts.entries()].map(([key, chart]) => lineChart(`${key}, round over round`, chart.series, 'round (test samples)', chart.ticks))].join('\n');
}

/**
 * Renders the loop report as one self-contained HTML page: inline CSS and SVG, no scripts and no
 * external resources, so it opens offline. The report's JSON is embedded for tools.
 */
export function renderReport(report: LoopReport): string {
  const json = JSON.stringify(report).replace(/</g, '\\u003c');
  const decisions = report.rounds
    .map((round) => `<li>Round ${round.round}: ${round.gate.publish ? `published v${round.publishedVersion}` : `blocked (${escapeHtml(round.gate.reasons.join('; '))})`}</li>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(report.title)}</h1>
<p>Generated ${escapeHtml(report.generatedAt)}; ${report.rounds.length} round(s).</p>
<ul>${decisions}</ul>
${report.rounds.length > 0 ? metricsOverRounds(report) : ''}
${report.rounds.map(roundSection).join('\n')}
<script type="application/json" id="report-data">${json}</script>
</body></html>
`;
}
