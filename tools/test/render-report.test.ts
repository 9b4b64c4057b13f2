import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideGate } from '../src/gate/decide-gate.ts';
import type { ModelEvaluation } from '../src/gate/evaluation.ts';
import { DEFAULT_GATE_POLICY } from '../src/gate/gate-policy.ts';
import type { LoopReport, RoundRecord } from '../src/report/loop-report.ts';
import { renderReport } from '../src/report/render-report.ts';
import { barChart, confusionMatrix, lineChart } from '../src/report/svg-charts.ts';
import { CHROMIUM, loadInChromium } from './support/headless-chromium.ts';

function evaluation(label: string, accuracy: number, mae: number): ModelEvaluation {
  return {
    label,
    heads: {
      sign: {
        head: 'sign',
        kind: 'classification',
        metric: { name: 'accuracy', value: accuracy, higherIsBetter: true },
        slices: { day: { value: accuracy, support: 40 } },
        support: 60,
        spread: { kind: 'classes', distinctPredicted: 3, distinctLabels: 3, topClassShare: 0.4 },
      },
      steering: {
        head: 'steering',
        kind: 'regression',
        metric: { name: 'mae', value: mae, higherIsBetter: false },
        slices: {},
        support: 80,
        spread: { kind: 'values', predictionStd: 5, labelStd: 6 },
      },
    },
    latencyMs: { p50: 1.2, p99: 2.5 },
    sizeBytes: 120_000,
  };
}

function round(index: number, candidate: ModelEvaluation, deployed: ModelEvaluation | null): RoundRecord {
  const gate = decideGate(candidate, deployed, DEFAULT_GATE_POLICY);
  return {
    round: index,
    startedAt: `2026-12-04T10:0${index}:00Z`,
    durationSeconds: 42,
    snapshot: {
      version: index + 1,
      manifestHash: 'ab'.repeat(32),
      stats: {
        samples: 140,
        perSplit: { train: 110, val: 20, test: 10 },
        perLabel: { sign: { stop: 20, yield: 20, 'speed-limit': 20 } },
        perTag: { day: 70, night: 70 },
        perSource: { drive_000: 80, signs: 60 },
      },
    },
    teacherLoss: { sign: [2.1, 1.4, 0.9, 0.7], steering: [1.0, 0.6, 0.5, 0.45] },
    studentLoss: { sign: [3, 2, 1.5], steering: [1.2, 0.8, 0.7] },
    teacher: evaluation('teacher', 0.95, 1.5),
    candidate,
    deployed,
    confusion: { sign: { classes: ['stop', 'yield', 'speed-limit'], matrix: [[18, 1, 1], [2, 17, 1], [0, 1, 19]] } },
    latencySamplesMs: { litert: [1.1, 1.2, 1.3, 1.25, 2.4], 'tfjs-tflite': [1.5, 1.6, 1.7, 2.9] },
    gate,
    publishedVersion: gate.publish ? index + 1 : null,
    fieldSamples: index > 0 ? { 'robot-1': 12, 'robot-2': 9 } : {},
    fleetVersions: { 'robot-1': 1, 'robot-2': 1 },
  };
}

function sampleReport(): LoopReport {
  const first = evaluation('candidate v1', 0.9, 2.0);
  return {
    title: 'fieldloop rounds <test>',
    generatedAt: '2026-12-04T10:10:00Z',
    rounds: [round(0, first, null), round(1, evaluation('candidate v2', 0.8, 1.8), first)],
  };
}

describe('renderReport', () => {
  it('embeds the report JSON and escapes text', () => {
    const html = renderReport(sampleReport());
    expect(html).toContain('<title>fieldloop rounds &lt;test&gt;</title>');
    const json = /<script type="application\/json" id="report-data">(.*)<\/script>/s.exec(html)?.[1] ?? '';
    expect((JSON.parse(json) as LoopReport).rounds).toHaveLength(2);
    expect(html).toMatch(/Round 1: blocked \(sign accuracy: 0\.8000 against deployed 0\.9000/);
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('gives the test samples of each round under the round-over-round ticks', () => {
    const html = renderReport(sampleReport());
    expect(html).toContain('Each round is scored on the test split of its own snapshot');
    expect(html).toMatch(/font-size="9">1 \(n=\d+\)<\/text>/);
  });

  it.skipIf(!CHROMIUM)('draws every chart in headless Chromium without console errors (needs Debian chromium)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-report-'));
    const file = join(dir, 'report.html');
    await writeFile(file, renderReport(sampleReport()));
    const page = loadInChromium(file);
    expect(page.consoleErrors).toEqual([]);
    const charts = [...page.dom.matchAll(/data-chart="([^"]*)" data-marks="(\d+)"/g)].map((m) => ({ name: m[1], marks: Number(m[2]) }));
    expect(charts.length).toBeGreaterThanOrEqual(14);
    expect(charts.filter((chart) => chart.marks === 0)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!CHROMIUM)('reports a console error on a broken page (needs Debian chromium)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fieldloop-report-'));
    const file = join(dir, 'broken.html');
    await writeFile(file, '<!doctype html><html><body><script>console.error("boom"); undefinedFunction();</script></body></html>');
    const page = loadInChromium(file);
    expect(page.consoleErrors.length).toBeGreaterThan(0);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('report charts', () => {
  it('labels each round of a round-over-round chart with its number', () => {
    const svg = lineChart('mae, round over round', { candidate: [2, 1.8, 1.7] }, 'round', ['3', '4', '5']);
    const ticks = [...svg.matchAll(/<text [^>]*font-size="9">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(ticks).toEqual(['3', '4', '5']);
  });

  it('numbers epochs from 1 and labels at most a dozen of a long series', () => {
    const svg = lineChart('loss', { total: Array.from({ length: 40 }, (_, i) => 1 / (i + 1)) }, 'epoch');
    const ticks = [...svg.matchAll(/<text [^>]*font-size="9">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(ticks[0]).toBe('1');
    expect(ticks.at(-1)).toBe('40');
    expect(ticks.length).toBeLessThanOrEqual(13);
  });

  it('keeps long tag names whole up to 40 characters and in full in the tooltip', () => {
    const long = 'scenario:night-path/wet-asphalt/oncoming-headlights-glare';
    const svg = barChart('tags', { 'scenario:night-path': 40, [long]: 12 }, 'tag');
    expect(svg).toContain('>scenario:night-path</text>');
    expect(svg).toContain(`>${long.slice(0, 39)}…</text>`);
    expect(svg).toContain(`<title>${long}: 12</title>`);
  });

  it('writes the count into each non-empty confusion cell', () => {
    const svg = confusionMatrix('sign', ['stop', 'yield'], [[18, 0], [3, 17]]);
    const counts = [...svg.matchAll(/<text [^>]*text-anchor="middle"[^>]*>(\d+)<\/text>/g)].map((m) => m[1]);
    expect(counts).toEqual(['18', '3', '17']);
  });
});
