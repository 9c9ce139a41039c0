// A timeline of a run: one row for the phases, one per thread, on one axis (milliseconds or
// tokens); bars on the critical path are outlined. Shared by the live view and the run viewer.
// Blocks are numbered from 1 here, as everywhere a person reads them (the JSON counts from 0).

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

// Drawn at its container's width in pixels (text stays its size): drawn again when that changes.
const resized = new ResizeObserver((entries) => {
  for (const e of entries) {
    const last = e.target.timeline;
    if (last && Math.abs(Math.max(320, e.target.clientWidth) - last.width) > 1)
      renderTimeline(e.target, last.model, last.options);
  }
});

/** The largest value a model's bars reach: timelines drawn side by side share the largest as their `end`. */
export function timelineEnd(model, now = 0) {
  return Math.max(1, now, ...model.rows.flatMap((r) => r.bars.map((b) => b.end ?? now)));
}

/**
 * Draw `model` into `container`: { unit: 'ms' | 'tokens', rows: [{ label, bars: [{ start, end,
 * kind: 'sequential' | 'parallel' | 'thread', critical, cut, title }] }] }. Open bars (end null)
 * reach `now`; `end` fixes the axis's right end (one scale for timelines compared side by side).
 */
export function renderTimeline(container, model, { now = 0, end: fixedEnd } = {}) {
  const end = Math.max(timelineEnd(model, now), fixedEnd ?? 0);
  const width = Math.max(320, container.clientWidth || 800);
  container.timeline = { model, options: { now, end: fixedEnd }, width };
  resized.observe(container);
  const plotW = width - LABEL_W - 16;
  const height = model.rows.length * (ROW_H + GAP) + 42;
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
          class: `bar-${b.kind}${b.critical ? ' critical' : ''}${b.cut ? ' cut' : ''}`,
          'data-kind': b.kind,
          'data-critical': b.critical ? 'true' : 'false',
          'data-start': b.start,
          'data-end': stop,
        },
        svg,
      );
      el('title', {}, rect).textContent = b.title ?? '';
    }
  });
  const axisY = model.rows.length * (ROW_H + GAP) + 6;
  el('line', { x1: LABEL_W, x2: LABEL_W + plotW, y1: axisY, y2: axisY, class: 'axis', 'data-end': end }, svg);
  // About one tick per 80 px, so their labels never touch on a narrow screen.
  const step = niceStep(end, Math.min(8, Math.max(2, Math.floor(plotW / 80))));
  const secondsDigits = step % 1000 === 0 ? 0 : step % 100 === 0 ? 1 : 2;
  for (let v = 0; v <= end + 1e-9; v += step) {
    el('line', { x1: x(v), x2: x(v), y1: axisY, y2: axisY + 4, class: 'axis' }, svg);
    const label =
      model.unit === 'ms'
        ? end >= 1000
          ? `${(v / 1000).toFixed(secondsDigits)} s`
          : `${Math.round(v)} ms`
        : `${Math.round(v)}`;
    el('text', { x: x(v), y: axisY + 16, 'text-anchor': 'middle', class: 'tick' }, svg).textContent = label;
  }
  // The unit on a line of its own under the ticks, so it never runs into the first one.
  el('text', { x: LABEL_W, y: axisY + 32, class: 'tick unit' }, svg).textContent =
    model.unit === 'ms' ? 'wall time →' : 'tokens along the critical path →';
  container.replaceChildren(svg);
  const legend = document.createElement('div');
  legend.className = 'legend';
  for (const [cls, text] of [
    ['l-seq', 'sequential'],
    ['l-par', 'parallel block'],
    ['l-thread', 'thread'],
    ['l-crit', "critical path (each block's longest thread)"],
    ...(bars(model).some((b) => b.cut) ? [['l-cut', 'cut off (stopped or failed)']] : []),
  ]) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    legend.appendChild(span);
  }
  container.appendChild(legend);
}

const bars = (model) => model.rows.flatMap((r) => r.bars);

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
            ? `parallel block ${p.block + 1}: ${p.endMs - p.startMs} ms`
            : `sequential: ${p.endMs - p.startMs} ms`,
      })),
    },
  ];
  for (const b of report.blocks) {
    for (const t of b.threads) {
      rows.push({
        label: `block ${b.block + 1} · thread ${t.thread}`,
        bars: [
          {
            start: t.startMs,
            end: t.endMs,
            kind: 'thread',
            critical: critical.has(`${b.block}.${t.thread}`),
            cut: t.finishReason === 'length' || t.finishReason === 'abort',
            title: `thread ${t.thread}: ${t.tokens} tokens, ${t.endMs - t.startMs} ms`,
          },
        ],
      });
    }
  }
  return { unit: 'ms', rows };
}
