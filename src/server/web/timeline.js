// A timeline of a run: one row for the phases, one per thread, on one axis (milliseconds or
// tokens); bars on the critical path are outlined. Shared by the live view and the run viewer.

const SVG = 'http://www.w3.org/2000/svg';
const LABEL_W = 110;
const ROW_H = 20;
const GAP = 4;

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  parent?.appendChild(node);
  return node;
}

function niceStep(span, count) {
  if (!(span > 0)) return 1;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/**
 * Draw `model` into `container`: { unit: 'ms' | 'tokens', rows: [{ label, bars: [{ start, end,
 * kind: 'sequential' | 'parallel' | 'thread', critical, title }] }] }. Open bars (end null) reach `now`.
 */
export function renderTimeline(container, model, now = 0) {
  const bars = model.rows.flatMap((r) => r.bars);
  const end = Math.max(1, now, ...bars.map((b) => b.end ?? now));
  const width = Math.max(320, container.clientWidth || 800);
  const plotW = width - LABEL_W - 16;
  const height = model.rows.length * (ROW_H + GAP) + 28;
  const x = (v) => LABEL_W + (v / end) * plotW;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`,
    height,
    role: 'img',
    'aria-label': `timeline in ${model.unit}`,
  });
  model.rows.forEach((row, i) => {
    const y = i * (ROW_H + GAP) + 4;
    el('text', { x: 4, y: y + ROW_H - 6, class: 'row-label' }, svg).textContent = row.label;
    for (const b of row.bars) {
      const stop = b.end ?? now;
      const rect = el(
        'rect',
        {
          x: x(b.start),
          y,
          width: Math.max(1.5, x(stop) - x(b.start)),
          height: ROW_H,
          rx: 3,
          class: `bar-${b.kind}${b.critical ? ' critical' : ''}`,
          'data-kind': b.kind,
          'data-critical': b.critical ? 'true' : 'false',
        },
        svg,
      );
      el('title', {}, rect).textContent = b.title ?? '';
    }
  });
  const axisY = model.rows.length * (ROW_H + GAP) + 6;
  el('line', { x1: LABEL_W, x2: LABEL_W + plotW, y1: axisY, y2: axisY, class: 'axis' }, svg);
  const step = niceStep(end, 8);
  for (let v = 0; v <= end + 1e-9; v += step) {
    el('line', { x1: x(v), x2: x(v), y1: axisY, y2: axisY + 4, class: 'axis' }, svg);
    const label =
      model.unit === 'ms' ? (step >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`) : `${Math.round(v)}`;
    el('text', { x: x(v), y: axisY + 16, 'text-anchor': 'middle', class: 'tick' }, svg).textContent = label;
  }
  el('text', { x: 4, y: axisY + 16, class: 'tick' }, svg).textContent =
    model.unit === 'ms' ? 'time' : 'tokens (critical path)';
  container.replaceChildren(svg);
  const legend = document.createElement('div');
  legend.className = 'legend';
  legend.innerHTML =
    '<span class="l-seq">sequential</span><span class="l-par">parallel block</span><span class="l-thread">thread</span><span class="l-crit">critical path</span>';
  container.appendChild(legend);
}

/** The thread of each block with the most tokens: the one on the critical path (L). */
export function criticalThreads(blocks) {
  const out = new Set();
  for (const b of blocks) {
    let best;
    for (const t of b.threads) if (!best || t.tokens > best.tokens) best = t;
    if (best) out.add(`${b.block}.${best.thread}`);
  }
  return out;
}

/** A run as the gateway reports it (`threadweaver` field): phases and threads in milliseconds. */
export function runTimeline(report) {
  const critical = criticalThreads(report.blocks);
  const rows = [
    {
      label: 'phases',
      bars: report.phases.map((p) => ({
        start: p.startMs,
        end: p.endMs,
        kind: p.kind,
        critical: true,
        title:
          p.kind === 'parallel'
            ? `parallel block ${p.block}: ${p.endMs - p.startMs} ms`
            : `sequential: ${p.endMs - p.startMs} ms`,
      })),
    },
  ];
  for (const b of report.blocks) {
    for (const t of b.threads) {
      rows.push({
        label: `block ${b.block} · thread ${t.thread}`,
        bars: [
          {
            start: t.startMs,
            end: t.endMs,
            kind: 'thread',
            critical: critical.has(`${b.block}.${t.thread}`),
            title: `thread ${t.thread}: ${t.tokens} tokens, ${t.endMs - t.startMs} ms`,
          },
        ],
      });
    }
  }
  return { unit: 'ms', rows };
}
