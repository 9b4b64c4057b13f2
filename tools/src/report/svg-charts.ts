// Small SVG chart builders for the offline HTML report. Every chart is a plain <svg> element
// with `data-chart` and `data-marks` (the number of drawn data marks), so a test can tell an
// empty chart from a drawn one without running scripts.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const WIDTH = 520;
const HEIGHT = 240;
const MARGIN = { left: 52, right: 12, top: 14, bottom: 34 };

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function niceNumber(value: number): string {
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000 || magnitude < 0.01) return value.toExponential(1);
  return Number(value.toPrecision(3)).toString();
}

function extent(values: readonly number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (low === high) {
    low -= Math.abs(low) * 0.1 || 1;
    high += Math.abs(high) * 0.1 || 1;
  }
  return [low, high];
}

function frame(name: string, marks: number, body: string, yLow: number, yHigh: number, xLabel: string): string {
  const plotBottom = HEIGHT - MARGIN.bottom;
  const ticks = [0, 0.5, 1].map((share) => {
    const y = plotBottom - share * (plotBottom - MARGIN.top);
    const value = yLow + share * (yHigh - yLow);
    return `<line x1="${MARGIN.left - 4}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}" stroke="#ddd"/>` +
      `<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end" font-size="10">${niceNumber(value)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" ` +
    `data-chart="${escapeHtml(name)}" data-marks="${marks}" role="img" aria-label="${escapeHtml(name)}">` +
    ticks.join('') +
    `<text x="${(WIDTH + MARGIN.left) / 2}" y="${HEIGHT - 6}" text-anchor="middle" font-size="11">${escapeHtml(xLabel)}</text>` +
    body +
    '</svg>';
}

function legend(names: readonly string[]): string {
  return names
    .map((name, i) => `<span class="key"><i style="background:${PALETTE[i % PALETTE.length]}"></i>${escapeHtml(name)}</span>`)
    .join(' ');
}

/** Picks the indexes to label on an axis of `count` points, at most `limit` of them, always the last. */
function tickIndexes(count: number, limit = 12): number[] {
  const step = Math.max(1, Math.ceil(count / limit));
  const picked: number[] = [];
  for (let i = 0; i < count; i += step) picked.push(i);
  if (picked.at(-1) !== count - 1) picked.push(count - 1);
  return picked;
}

/**
 * Draws a line chart of several series over a shared index (epochs, rounds). `xTicks` labels the
 * points of that index; without it they are numbered from 1.
 */
export function lineChart(name: string, series: Record<string, readonly number[]>, xLabel: string, xTicks?: readonly string[]): string {
  const names = Object.keys(series);
  const longest = Math.max(1, ...names.map((n) => series[n]?.length ?? 0));
  const [low, high] = extent(names.flatMap((n) => [...(series[n] ?? [])]));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (i: number) => MARGIN.left + (longest === 1 ? plotWidth / 2 : (i / (longest - 1)) * plotWidth);
  const y = (v: number) => MARGIN.top + (1 - (v - low) / (high - low)) * plotHeight;
  let marks = 0;
  const paths = names.map((n, index) => {
    const color = PALETTE[index % PALETTE.length];
    const points = (series[n] ?? []).map((v, i) => [x(i), y(v)] as const).filter(([, py]) => Number.isFinite(py));
    marks += points.length;
    const line = points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
    const dots = points.map(([px, py]) => `<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="2.5" fill="${color}"/>`).join('');
    return `<path d="${line}" fill="none" stroke="${color}" stroke-width="1.8"/>${dots}`;
  });
  const tickY = HEIGHT - MARGIN.bottom + 12;
  // The last tick ends at its point, so a long label stays inside the chart.
  const anchor = (i: number) => (longest > 1 && i === longest - 1 ? 'end' : 'middle');
  const ticks = tickIndexes(longest)
    .map((i) => `<text x="${x(i).toFixed(1)}" y="${tickY}" text-anchor="${anchor(i)}" font-size="9">${escapeHtml(xTicks?.[i] ?? String(i + 1))}</text>`)
    .join('');
  return `<figure>${frame(name, marks, paths.join('') + ticks, low, high, xLabel)}<figcaption>${escapeHtml(name)} ${legend(names)}</figcaption></figure>`;
}

const BAR_ROW = 16;
const LABEL_CHARS = 40;

/**
 * Draws a bar chart of named values as horizontal bars, one row per name, so long names such as
 * scenario tags stay readable. A name longer than 40 characters is cut with an ellipsis; its full
 * text stays in the bar's tooltip.
 */
export function barChart(name: string, values: Record<string, number>, xLabel: string): string {
  const entries = Object.entries(values);
  const [, high] = extent([0, ...entries.map(([, v]) => v)]);
  const labels = entries.map(([label]) => (label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label));
  const labelWidth = Math.min(240, 12 + 5.6 * Math.max(4, ...labels.map((label) => label.length)));
  const plotWidth = WIDTH - labelWidth - 60;
  const height = MARGIN.top + entries.length * BAR_ROW + 30;
  const bars = entries.map(([label, value], i) => {
    const w = high > 0 ? (value / high) * plotWidth : 0;
    const top = MARGIN.top + i * BAR_ROW;
    return `<text x="${labelWidth - 6}" y="${top + 11}" text-anchor="end" font-size="10">${escapeHtml(labels[i] ?? label)}</text>` +
      `<rect x="${labelWidth}" y="${top + 2}" width="${w.toFixed(1)}" height="${BAR_ROW - 4}" fill="${PALETTE[0]}"><title>${escapeHtml(label)}: ${value}</title></rect>` +
      `<text x="${(labelWidth + w + 4).toFixed(1)}" y="${top + 11}" font-size="10">${niceNumber(value)}</text>`;
  });
  const axis = `<text x="${labelWidth + plotWidth / 2}" y="${height - 8}" text-anchor="middle" font-size="11">${escapeHtml(xLabel)}</text>`;
  const marks = entries.filter(([, v]) => v > 0).length;
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" ` +
    `data-chart="${escapeHtml(name)}" data-marks="${marks}" role="img" aria-label="${escapeHtml(name)}">${bars.join('')}${axis}</svg>` +
    `<figcaption>${escapeHtml(name)}</figcaption></figure>`;
}

/** Draws a histogram of samples, one colour per named series, on shared bins. */
export function histogram(name: string, series: Record<string, readonly number[]>, xLabel: string, bins = 24): string {
  const names = Object.keys(series);
  const all = names.flatMap((n) => [...(series[n] ?? [])]).filter(Number.isFinite);
  const [low, high] = extent(all);
  const width = (high - low) / bins;
  const counts = names.map((n) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of series[n] ?? []) {
      if (!Number.isFinite(v)) continue;
      const bin = Math.min(bins - 1, Math.floor((v - low) / width));
      c[bin] = (c[bin] ?? 0) + 1;
    }
    return c;
  });
  const top = Math.max(1, ...counts.flat());
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / bins / Math.max(1, names.length);
  const rects = counts.flatMap((c, s) =>
    c.map((count, b) => {
      const h = (count / top) * plotHeight;
      const left = MARGIN.left + (b * names.length + s) * slot;
      return `<rect x="${left.toFixed(1)}" y="${(MARGIN.top + plotHeight - h).toFixed(1)}" width="${Math.max(1, slot - 0.5).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[s % PALETTE.length]}"/>`;
    }),
  );
  const axis = `<text x="${MARGIN.left}" y="${HEIGHT - MARGIN.bottom + 12}" font-size="9">${niceNumber(low)}</text>` +
    `<text x="${WIDTH - MARGIN.right}" y="${HEIGHT - MARGIN.bottom + 12}" text-anchor="end" font-size="9">${niceNumber(high)}</text>`;
  return `<figure>${frame(name, all.length, rects.join('') + axis, 0, top, xLabel)}<figcaption>${escapeHtml(name)} ${legend(names)}</figcaption></figure>`;
}

/** Draws a confusion matrix as shaded cells, with labels as rows and predictions as columns. */
export function confusionMatrix(name: string, classes: readonly string[], matrix: readonly (readonly number[])[]): string {
  const top = Math.max(1, ...matrix.flat());
  const cells = classes.length;
  const size = Math.min(22, Math.floor(440 / Math.max(1, cells)));
  const offset = classes.length <= 20 ? 90 : 20;
  const rects = matrix.flatMap((row, r) =>
    row.map((count, c) => {
      const shade = Math.round(255 - (count / top) * 200);
      const color = r === c ? `rgb(${shade},${shade},255)` : `rgb(255,${shade},${shade})`;
      const rect = `<rect x="${offset + c * size}" y="${offset + r * size}" width="${size - 1}" height="${size - 1}" fill="${color}"><title>${escapeHtml(classes[r] ?? '')} predicted as ${escapeHtml(classes[c] ?? '')}: ${count}</title></rect>`;
      // Cells of at least 14 px show their count; smaller ones keep it in the tooltip.
      const text = count > 0 && size >= 14
        ? `<text x="${offset + c * size + (size - 1) / 2}" y="${offset + r * size + size * 0.68}" text-anchor="middle" font-size="${Math.min(10, size - 6)}"${shade < 140 ? ' fill="#fff"' : ''}>${count}</text>`
        : '';
      return rect + text;
    }),
  );
  const labels = classes.length <= 20
    ? classes.map((label, i) => `<text x="${offset - 4}" y="${offset + i * size + size * 0.7}" text-anchor="end" font-size="9">${escapeHtml(label.slice(0, 14))}</text>`).join('')
    : '';
  const total = offset + cells * size + 10;
  const marks = matrix.flat().filter((v) => v > 0).length;
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${total} ${total}" width="${total}" height="${total}" data-chart="${escapeHtml(name)}" data-marks="${marks}">` +
    `<text x="${offset}" y="${offset - 8}" font-size="10">predicted →</text>${labels}${rects.join('')}</svg><figcaption>${escapeHtml(name)} (rows: label, columns: prediction)</figcaption></figure>`;
}
