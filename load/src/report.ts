// Self-contained HTML reports (inline CSS and SVG charts, no script, no external asset) and the
// JSON of the same figures, written to reports/ (gitignored).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ThresholdResult } from './thresholds.js';

export interface ChartSeries {
  readonly name: string;
  /** [x, y]; a null y breaks the line. */
  readonly points: readonly (readonly [number, number | null])[];
}

export interface Chart {
  readonly title: string;
  readonly yUnit: string;
  readonly xLabel: string;
  readonly series: readonly ChartSeries[];
  /** Log-free, but a horizontal marker (an SLO) can be drawn. */
  readonly marker?: { readonly y: number; readonly label: string };
}

export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number | null)[])[];
}

export interface ReportInput {
  readonly title: string;
  readonly subtitle: string;
  readonly verdict: { readonly ok: boolean; readonly text: string } | null;
  readonly facts: readonly (readonly [string, string])[];
  readonly thresholds: readonly ThresholdResult[] | null;
  readonly tables: readonly Table[];
  readonly charts: readonly Chart[];
  readonly notes: readonly string[];
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function formatNumber(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

function niceStep(range: number): number {
  const raw = range / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

export function lineChartSvg(chart: Chart): string {
  const width = 760;
  const height = 260;
  const left = 64;
  const right = 16;
  const top = 28;
  const bottom = 40;
  const xs = chart.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = chart.series.flatMap((s) =>
    s.points.map((p) => p[1]).filter((y): y is number => y !== null && Number.isFinite(y)),
  );
  if (chart.marker) ys.push(chart.marker.y);
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs, xMin + 1) : 1;
  const yTop = ys.length > 0 ? Math.max(...ys) : 1;
  const yStep = niceStep(yTop > 0 ? yTop * 1.05 : 1);
  const yMax = Math.max(yStep, Math.ceil((yTop * 1.05) / yStep) * yStep);
  const px = (x: number): number => left + ((x - xMin) / (xMax - xMin)) * (width - left - right);
  const py = (y: number): number => top + (1 - y / yMax) * (height - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(chart.title)}">`,
    `<text x="${left}" y="16" class="ct">${escapeHtml(chart.title)} (${escapeHtml(chart.yUnit)})</text>`,
  ];
  for (let y = 0; y <= yMax + 1e-9; y += yStep) {
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${py(y)}" y2="${py(y)}" class="grid"/>`,
      `<text x="${left - 6}" y="${py(y) + 4}" class="yl">${formatNumber(y, yStep < 1 ? 2 : 0)}</text>`,
    );
  }
  const xStep = niceStep(xMax - xMin);
  for (let x = Math.ceil(xMin / xStep) * xStep; x <= xMax + 1e-9; x += xStep) {
    parts.push(
      `<text x="${px(x)}" y="${height - bottom + 16}" class="xl">${formatNumber(x, xStep < 1 ? 1 : 0)}</text>`,
    );
  }
  parts.push(
    `<text x="${(left + width - right) / 2}" y="${height - 6}" class="xl">${escapeHtml(chart.xLabel)}</text>`,
  );
  if (chart.marker) {
    const y = py(chart.marker.y);
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" class="marker"/>`,
      `<text x="${width - right - 4}" y="${y - 4}" class="ml">${escapeHtml(chart.marker.label)}</text>`,
    );
  }
  chart.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000';
    let segment: string[] = [];
    const flush = (): void => {
      if (segment.length > 1) {
        parts.push(
          `<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${segment.join(' ')}"/>`,
        );
      } else if (segment.length === 1) {
        const [cx, cy] = (segment[0] ?? '0,0').split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
      }
      segment = [];
    };
    for (const [x, y] of series.points) {
      if (y === null || !Number.isFinite(y)) flush();
      else segment.push(`${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    }
    flush();
    // Legend entries side by side, each as wide as its name.
    const legendX =
      left + 8 + chart.series.slice(0, i).reduce((x, s) => x + 24 + s.name.length * 6.5, 0);
    parts.push(
      `<rect x="${legendX}" y="${top - 2}" width="10" height="10" fill="${color}"/>`,
      `<text x="${legendX + 14}" y="${top + 7}" class="lg">${escapeHtml(series.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function tableHtml(table: Table): string {
  const head = table.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = table.rows
    .map(
      (row) =>
        `<tr>${row.map((cell) => `<td>${escapeHtml(cell === null ? '–' : typeof cell === 'number' ? formatNumber(cell) : cell)}</td>`).join('')}</tr>`,
    )
    .join('');
  // Tables are built to fit the page (headers wrap, cells may break); should one still be too
  // wide on a narrow screen, the wrapper scrolls it instead of pushing the page wider.
  return `<h2>${escapeHtml(table.title)}</h2><div class="tw"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

export function renderHtml(input: ReportInput): string {
  const thresholds =
    input.thresholds === null
      ? ''
      : tableHtml({
          title: 'Thresholds',
          columns: ['metric', 'threshold', 'observed', 'result'],
          rows: input.thresholds.map((t) => [
            t.metric,
            t.expression,
            t.observed === null ? 'no samples' : formatNumber(t.observed, 4),
            t.ok ? 'met' : 'BREACHED',
          ]),
        })
          .replace(/<td>BREACHED<\/td>/g, '<td class="bad">BREACHED</td>')
          .replace(/<td>met<\/td>/g, '<td class="good">met</td>');
  const verdict =
    input.verdict === null
      ? ''
      : `<p class="verdict ${input.verdict.ok ? 'good' : 'bad'}">${escapeHtml(input.verdict.text)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1000px;color:#111;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.sub{color:#555;margin:0 0 12px}.verdict{font-weight:600;padding:8px 12px;border-radius:6px;display:inline-block}
.good{color:#166534;background:#dcfce7}.bad{color:#991b1b;background:#fee2e2}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:12.5px}
.tw{max-width:100%;overflow-x:auto}
th,td{border-bottom:1px solid #e5e7eb;padding:3px 6px;text-align:left;overflow-wrap:break-word}
th{background:#f9fafb;vertical-align:bottom;white-space:normal;font-weight:600;font-size:12px;line-height:1.25}
@media (max-width:720px){table{font-size:11px}th,td{padding:2px 3px}}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}dt{color:#555}dd{margin:0}
svg{display:block;margin:8px 0 16px;max-width:100%;height:auto}
.ct{font-size:13px;font-weight:600}.yl{font-size:11px;text-anchor:end;fill:#555}.xl{font-size:11px;text-anchor:middle;fill:#555}
.lg{font-size:11px}.grid{stroke:#e5e7eb}.marker{stroke:#dc2626;stroke-dasharray:4 3}.ml{font-size:11px;fill:#dc2626;text-anchor:end}
ul{padding-left:20px}
</style></head><body>
<h1>${escapeHtml(input.title)}</h1><p class="sub">${escapeHtml(input.subtitle)}</p>
${verdict}
<h2>Figures</h2><dl>${input.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
${thresholds}
${input.tables.map(tableHtml).join('\n')}
${input.charts.length > 0 ? '<h2>Over time</h2>' : ''}
${input.charts.map(lineChartSvg).join('\n')}
${input.notes.length > 0 ? `<h2>Notes</h2><ul>${input.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}

export const REPORTS_DIR = path.resolve(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  '..',
  'reports',
);

/** Writes <base>.html and <base>.json into reports/; returns their paths. */
export async function writeReport(
  baseName: string,
  input: ReportInput,
  figures: unknown,
  dir = REPORTS_DIR,
): Promise<{ html: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const html = path.join(dir, `${baseName}.html`);
  const json = path.join(dir, `${baseName}.json`);
  await writeFile(html, renderHtml(input));
  await writeFile(json, `${JSON.stringify(figures, null, 2)}\n`);
  return { html, json };
}
