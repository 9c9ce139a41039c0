/**
 * Hand-written SVG charts (no chart library): a histogram and a line chart with points,
 * both with axes, ticks, labels and a title.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: Point[];
  color?: string;
}

export interface Marker {
  x: number;
  label: string;
  color?: string;
}

interface Frame {
  title: string;
  xLabel: string;
  yLabel: string;
}

const W = 720;
const H = 420;
const M = { left: 70, right: 24, top: 48, bottom: 62 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#dc2626'];
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A round step (1, 2 or 5 times a power of ten) giving about `count` intervals over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/** Ticks covering [lo, hi] on round values. */
function ticks(lo: number, hi: number, count = 6): { lo: number; hi: number; values: number[] } {
  if (hi <= lo) hi = lo + 1;
  const step = niceStep(hi - lo, count);
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const values: number[] = [];
  for (let v = start; v <= end + step / 2; v += step) values.push(Number(v.toPrecision(12)));
  return { lo: start, hi: end, values };
}

function fmt(v: number): string {
  if (Math.abs(v) >= 10000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

const f1 = (v: number): string => v.toFixed(1);

/** An axis's range and ticks; `format` (a caller's option, passed on as given) labels the ticks. */
interface Axis {
  lo: number;
  hi: number;
  values: number[];
  format?: ((v: number) => string) | undefined;
}

/** The shared frame: background, title, axis labels, grid and tick labels. */
function frame(f: Frame, x: Axis, y: Axis): { sx: (v: number) => number; sy: (v: number) => number; parts: string[] } {
  const sx = (v: number): number => M.left + ((v - x.lo) / (x.hi - x.lo)) * PLOT_W;
  const sy = (v: number): number => M.top + PLOT_H - ((v - y.lo) / (y.hi - y.lo)) * PLOT_H;
  const parts = [
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold" fill="#111827">${escapeXml(f.title)}</text>`,
    `<text x="${M.left + PLOT_W / 2}" y="${H - 16}" text-anchor="middle" font-size="13" fill="#374151">${escapeXml(f.xLabel)}</text>`,
    `<text x="18" y="${M.top + PLOT_H / 2}" text-anchor="middle" font-size="13" fill="#374151" transform="rotate(-90 18 ${M.top + PLOT_H / 2})">${escapeXml(f.yLabel)}</text>`,
  ];
  const xf = x.format ?? fmt;
  const yf = y.format ?? fmt;
  for (const v of y.values) {
    const py = f1(sy(v));
    parts.push(
      `<line x1="${M.left}" y1="${py}" x2="${M.left + PLOT_W}" y2="${py}" stroke="#e5e7eb" stroke-width="1"/>`,
    );
    parts.push(
      `<text x="${M.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle" font-size="11" fill="#4b5563">${escapeXml(yf(v))}</text>`,
    );
  }
  for (const v of x.values) {
    const px = f1(sx(v));
    parts.push(
      `<line x1="${px}" y1="${M.top + PLOT_H}" x2="${px}" y2="${M.top + PLOT_H + 5}" stroke="#6b7280" stroke-width="1"/>`,
    );
    parts.push(
      `<text x="${px}" y="${M.top + PLOT_H + 19}" text-anchor="middle" font-size="11" fill="#4b5563">${escapeXml(xf(v))}</text>`,
    );
  }
  parts.push(
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + PLOT_H}" stroke="#6b7280" stroke-width="1"/>`,
    `<line x1="${M.left}" y1="${M.top + PLOT_H}" x2="${M.left + PLOT_W}" y2="${M.top + PLOT_H}" stroke="#6b7280" stroke-width="1"/>`,
  );
  return { sx, sy, parts };
}

function document(parts: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>`,
    ...parts.map((p) => `  ${p}`),
    '</svg>',
    '',
  ].join('\n');
}

function emptyChart(f: Frame): string {
  const { parts } = frame(f, ticks(0, 1), ticks(0, 1));
  parts.push(
    `<text x="${M.left + PLOT_W / 2}" y="${M.top + PLOT_H / 2}" text-anchor="middle" font-size="14" fill="#9ca3af">no data</text>`,
  );
  return document(parts);
}

function markerLine(m: Marker, sx: (v: number) => number, row: number, fallback: string): string[] {
  const px = f1(sx(m.x));
  const color = m.color ?? fallback;
  return [
    `<line x1="${px}" y1="${M.top}" x2="${px}" y2="${M.top + PLOT_H}" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 4"/>`,
    `<text x="${Number(px) + 5}" y="${M.top + 14 + row * 15}" font-size="11" fill="${color}">${escapeXml(m.label)}</text>`,
  ];
}

/** Histogram of `values` on round bin edges, with optional vertical markers (e.g. "no speedup", "mean"). */
export function histogramSvg(
  opts: Frame & { values: readonly number[]; bins?: number; markers?: readonly Marker[] },
): string {
  const values = opts.values.filter(Number.isFinite);
  if (!values.length) return emptyChart(opts);
  const markers = opts.markers ?? [];
  const lo = Math.min(...values, ...markers.map((m) => m.x));
  const hi = Math.max(...values, ...markers.map((m) => m.x));
  const width = niceStep(hi - lo || Math.abs(lo) || 1, opts.bins ?? 16);
  const start = Math.floor(lo / width + 1e-9) * width;
  const nBins = Math.max(1, Math.floor((hi - start) / width + 1e-9) + 1);
  const counts = new Array<number>(nBins).fill(0);
  for (const v of values) counts[Math.min(nBins - 1, Math.floor((v - start) / width + 1e-9))]! += 1;
  const x = ticks(start, start + nBins * width, 8);
  // Headroom over the tallest bar for the markers' labels (one line each), so no bar covers them.
  const labelBand = markers.length ? markers.length * 15 + 8 : 0;
  const y = ticks(0, (Math.max(...counts) * PLOT_H) / (PLOT_H - labelBand), 5);
  const { sx, sy, parts } = frame(opts, x, y);
  counts.forEach((c, i) => {
    if (!c) return;
    const x0 = sx(start + i * width) + 1;
    const x1 = sx(start + (i + 1) * width) - 1;
    parts.push(
      `<rect x="${f1(x0)}" y="${f1(sy(c))}" width="${f1(Math.max(1, x1 - x0))}" height="${f1(sy(0) - sy(c))}" fill="${PALETTE[0]}" fill-opacity="0.8"><title>${escapeXml(`${fmt(start + i * width)}–${fmt(start + (i + 1) * width)}: ${c}`)}</title></rect>`,
    );
  });
  markers.forEach((m, i) => parts.push(...markerLine(m, sx, i, '#6b7280')));
  return document(parts);
}

/** Lines with points, one per series, with a legend. `yRange` fixes the y axis (e.g. [0, 1] for accuracy). */
export function lineChartSvg(
  opts: Frame & { series: readonly Series[]; yRange?: [number, number]; yFormat?: (v: number) => string },
): string {
  const points = opts.series.flatMap((s) => s.points);
  if (!points.length) return emptyChart(opts);
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const x = ticks(Math.min(...xs), Math.max(...xs), 8);
  const y = opts.yRange ? ticks(opts.yRange[0], opts.yRange[1], 5) : ticks(Math.min(...ys), Math.max(...ys), 5);
  const { sx, sy, parts } = frame(opts, x, { ...y, format: opts.yFormat });
  opts.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    if (sorted.length > 1) {
      const d = sorted.map((p, j) => `${j ? 'L' : 'M'}${f1(sx(p.x))} ${f1(sy(p.y))}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    }
    for (const p of sorted) {
      parts.push(
        `<circle cx="${f1(sx(p.x))}" cy="${f1(sy(p.y))}" r="4" fill="${color}"><title>${escapeXml(`${s.name}: ${fmt(p.x)}, ${fmt(p.y)}`)}</title></circle>`,
      );
    }
    const ly = M.top + 8 + i * 18;
    const lx = M.left + PLOT_W - 150;
    parts.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${color}"/>`,
      `<text x="${lx + 18}" y="${ly + 10}" font-size="12" fill="#111827">${escapeXml(s.name)}</text>`,
    );
  });
  return document(parts);
}
