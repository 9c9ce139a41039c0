// The run viewer: a run's summary, charts and problem table (/), and one problem's samples side
// by side (/problem?dataset=…&id=…). Data comes from the viewer's /api/* JSON, where blocks
// count from 0; the page counts them from 1.
import { lanesBox, plural } from './lanes.js';
import { renderTimeline, timelineEnd } from './timeline.js';

const main = document.getElementById('main');

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-')) node.setAttribute(k, String(v));
    else if (k === 'onclick' || k === 'onchange' || k === 'oninput') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c instanceof Node ? c : String(c));
  return node;
}

const pct = (x) => (x == null ? '–' : `${(x * 100).toFixed(1)}%`);
const num = (x, d = 0) => (x == null ? '–' : Number(x).toFixed(d));
const times = (x) => (x == null ? '–' : `${x.toFixed(2)}×`);

function status(state, text) {
  const s = document.getElementById('status');
  s.dataset.state = state;
  s.textContent = text;
}

async function getJson(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

function panel(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

function summaryPanel(run) {
  const rows = [];
  for (const [name, d] of Object.entries(run.datasets)) {
    for (const mode of ['parallel', 'sequential']) {
      const m = d[mode];
      if (!m) continue;
      rows.push(
        h(
          'tr',
          {},
          h('td', {}, name),
          h('td', {}, mode),
          h('td', {}, pct(m.accuracy)),
          h('td', {}, pct(m.passAtK)),
          h('td', {}, num(m.meanTotalTokens)),
          h('td', {}, num(m.meanCriticalPathTokens)),
          h('td', {}, num(m.meanAcceleration, 3)),
          h('td', {}, pct(m.formatCorrect)),
          h('td', {}, m.samples),
        ),
      );
    }
  }
  const speed = Object.entries(run.datasets).map(([name, d]) =>
    h(
      'li',
      {},
      `${name}: token-latency speedup ${times(d.speedup.tokenLatencyRatioOfMeans)} (ratio of means), ${times(d.speedup.tokenLatencyMeanOfRatios)} (mean of per-problem ratios), wall clock ${times(d.speedup.wallClock)}; parallel width T/L ${times(d.speedup.parallelOwnTotalOverCriticalPath)} (not a speedup)`,
    ),
  );
  const r = run.rollouts;
  const cfg = run.config;
  return panel(
    'Summary',
    h(
      'p',
      { class: 'hint' },
      `${run.kind === 'rollouts' ? 'RL rollouts' : 'eval run'} · ${run.rows} samples · ${run.files.join(', ')}${cfg ? ` · k ${cfg.k}, temperature ${cfg.temperature}, top-p ${cfg.topP}` : ''}`,
    ),
    r
      ? h(
          'p',
          {},
          `mean reward ${num(r.meanReward, 3)} · accuracy ${pct(r.accuracy)} · mean η ${num(r.meanAcceleration, 3)} · with parallel blocks ${pct(r.parallelShare)} · format ok ${pct(r.formatValidShare)}`,
        )
      : null,
    h(
      'div',
      { class: 'table-box' },
      h(
        'table',
        { class: 'rows', id: 'summary' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['dataset', 'mode', 'accuracy', 'pass@k', 'mean T', 'mean L', 'mean η', 'format ok', 'samples'].map(
              (t) => h('th', {}, t),
            ),
          ),
        ),
        h('tbody', {}, rows),
      ),
    ),
    h('ul', { class: 'hint' }, speed),
  );
}

function chartsPanel(run) {
  if (!run.charts.length) return null;
  return panel(
    'Charts',
    h(
      'div',
      { class: 'charts' },
      run.charts.map((c) => h('img', { src: `/api/charts/${c.file}`, alt: c.title, title: c.title })),
    ),
  );
}

function cellText(c) {
  return c ? `${c.correct}/${c.samples}` : '–';
}

function problemsPanel(run) {
  const families = [...new Set(run.problems.map((p) => p.family).filter(Boolean))].sort();
  const state = { outcome: 'all', mode: 'both', family: 'all', sort: 'none' };
  const params = new URLSearchParams(location.search);
  for (const k of Object.keys(state)) if (params.get(k)) state[k] = params.get(k);
  const tbody = h('tbody');
  const count = h('span', { class: 'hint', id: 'count' });
  const select = (id, options) =>
    h(
      'select',
      {
        id,
        onchange: (e) => {
          state[id] = e.target.value;
          draw();
        },
      },
      options.map(([v, t]) => h('option', { value: v, selected: state[id] === v }, t)),
    );

  function cellsOf(p) {
    return state.mode === 'both' ? Object.values(p.modes) : p.modes[state.mode] ? [p.modes[state.mode]] : [];
  }
  function keep(p) {
    const cells = cellsOf(p);
    if (cells.length === 0) return false;
    if (state.family !== 'all' && p.family !== state.family) return false;
    const n = cells.reduce((s, c) => s + c.samples, 0);
    const ok = cells.reduce((s, c) => s + c.correct, 0);
    if (state.outcome === 'correct') return ok === n;
    if (state.outcome === 'incorrect') return ok < n;
    return true;
  }
  function draw() {
    let list = run.problems.filter(keep);
    if (state.sort !== 'none') {
      const dir = state.sort === 'speedup-desc' ? -1 : 1;
      list = [...list].sort((a, b) =>
        (a.speedup ?? -Infinity) === (b.speedup ?? -Infinity)
          ? 0
          : a.speedup == null
            ? 1
            : b.speedup == null
              ? -1
              : dir * (a.speedup - b.speedup),
      );
    }
    tbody.replaceChildren(
      ...list.map((p) => {
        const href = `/problem?dataset=${encodeURIComponent(p.dataset)}&id=${encodeURIComponent(p.problemId)}`;
        const par = p.modes.parallel;
        const seq = p.modes.sequential;
        const correctness = (c) =>
          h('td', { class: c ? (c.correct === c.samples ? 'ok' : c.correct === 0 ? 'bad' : '') : '' }, cellText(c));
        return h(
          'tr',
          { 'data-problem-id': p.problemId, 'data-dataset': p.dataset, 'data-speedup': p.speedup ?? '' },
          h('td', {}, h('a', { href }, p.problemId)),
          h('td', {}, p.dataset),
          h('td', {}, p.family ?? '–'),
          correctness(par),
          correctness(seq),
          h('td', {}, num(seq?.meanTotalTokens)),
          h('td', {}, num(par?.meanCriticalPathTokens)),
          h('td', {}, times(p.speedup)),
          h('td', { class: 'hint' }, (p.problem ?? '').slice(0, 80)),
        );
      }),
    );
    count.textContent = `${list.length} of ${run.problems.length} problems`;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (!['all', 'both', 'none'].includes(v)) q.set(k, v);
    history.replaceState(null, '', q.size ? `/?${q}` : '/');
  }
  const sortHeader = h(
    'th',
    {
      'data-sort': 'speedup',
      title: 'sort by speedup',
      onclick: () => {
        state.sort = state.sort === 'speedup-desc' ? 'speedup-asc' : 'speedup-desc';
        document.getElementById('sort').value = state.sort;
        draw();
      },
    },
    'speedup',
  );
  const filters = h(
    'div',
    { class: 'controls' },
    h(
      'label',
      {},
      'outcome ',
      select('outcome', [
        ['all', 'all'],
        ['correct', 'all samples correct'],
        ['incorrect', 'some incorrect'],
      ]),
    ),
    h(
      'label',
      {},
      'mode ',
      select('mode', [
        ['both', 'both'],
        ['parallel', 'parallel'],
        ['sequential', 'sequential'],
      ]),
    ),
    h('label', {}, 'family ', select('family', [['all', 'all'], ...families.map((f) => [f, f])])),
    h(
      'label',
      {},
      'sort ',
      select('sort', [
        ['none', 'run order'],
        ['speedup-desc', 'speedup, highest first'],
        ['speedup-asc', 'speedup, lowest first'],
      ]),
    ),
    count,
  );
  const table = h(
    'table',
    { class: 'rows', id: 'problems' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'problem'),
        h('th', {}, 'dataset'),
        h('th', {}, 'family'),
        h('th', {}, 'parallel ✓'),
        h('th', {}, 'sequential ✓'),
        h('th', {}, 'seq T'),
        h('th', {}, 'par L'),
        sortHeader,
        h('th', {}, 'text'),
      ),
    ),
    tbody,
  );
  draw();
  return panel('Problems', filters, h('div', { class: 'table-box' }, table));
}

function trajectoryView(segments) {
  const root = h('div', { class: 'trajectory' });
  let afterBlock = false;
  for (const s of segments) {
    if (s.kind === 'sequential') {
      // The text after a block starts with the newline that followed `</Parallel>`: not a blank line to show.
      const text = afterBlock ? s.text.replace(/^\n/, '') : s.text;
      if (text) root.append(h('div', { class: 'seq text' }, text));
      afterBlock = false;
      continue;
    }
    afterBlock = true;
    const lanes = lanesBox();
    lanes.append(
      ...s.threads.map((t) =>
        h(
          'div',
          {
            class: 'lane',
            'data-thread': `${s.block}.${t.thread ?? '?'}`,
            'data-critical': t.critical ? 'true' : 'false',
          },
          h(
            'div',
            { class: 'lane-head' },
            h('div', { class: 'lane-name' }, `thread ${t.thread ?? '?'}`),
            h('div', { class: 'lane-info' }, `${t.tokens} tokens${t.critical ? ' · critical path' : ''}`),
          ),
          h('div', { class: 'lane-text text' }, t.text),
        ),
      ),
    );
    root.append(
      h(
        'div',
        { class: 'block', 'data-block': s.block, 'data-state': 'joined' },
        h(
          'div',
          { class: 'block-head' },
          `parallel block ${s.block + 1} · ${plural(s.threads.length, 'thread')} · ${s.overheadTokens} tokens of outlines and wrappers`,
        ),
        h(
          'div',
          { class: 'outlines' },
          s.outlines.map((o) => h('div', {}, `${o.number ?? '?'}: ${o.text}`)),
        ),
        lanes,
      ),
    );
  }
  return root;
}

function sampleCard(s) {
  const r = s.row;
  const timeline = h('div', { class: 'timeline' });
  const card = h(
    'div',
    { class: 'sample panel', 'data-mode': r.mode, 'data-sample': r.sample },
    h(
      'h3',
      {},
      `${r.mode} · sample ${r.sample} `,
      h('span', { class: r.correct ? 'ok' : 'bad' }, r.correct ? '✓ correct' : '✗ incorrect'),
      r.pending ? h('span', { class: 'hint' }, ' (group pending)') : null,
    ),
    h(
      'p',
      { class: 'hint' },
      `answer ${r.answer ?? '(none)'} · T ${r.totalTokens} · L ${r.criticalPathTokens} · η ${num(r.acceleration, 3)} · ${plural(r.parallelBlocks, 'block')}, ${plural(r.threads, 'thread')} · wall ${(r.wallMs / 1000).toFixed(2)} s · seed ${r.seed}` +
        (typeof r.reward === 'number' ? ` · reward ${num(r.reward, 3)}` : '') +
        (typeof r.advantage === 'number' ? ` · advantage ${num(r.advantage, 3)}` : '') +
        (r.formatValid ? '' : ' · format invalid') +
        ` · grader: ${r.gradeReason}`,
    ),
    timeline,
    s.segments.length ? trajectoryView(s.segments) : h('p', { class: 'hint' }, 'the run kept no text for this sample'),
  );
  card.timelineModel = s.timeline;
  card.timelineEl = timeline;
  return card;
}

async function problemPage(params) {
  const dataset = params.get('dataset') ?? '';
  const id = params.get('id') ?? '';
  const p = await getJson(`/api/problem?dataset=${encodeURIComponent(dataset)}&id=${encodeURIComponent(id)}`);
  document.title = `${p.problemId} · threadweaver run viewer`;
  const bySample = new Map();
  for (const s of p.samples) {
    const entry = bySample.get(s.row.sample) ?? {};
    entry[s.row.mode] = s;
    bySample.set(s.row.sample, entry);
  }
  const cards = [];
  const grid = [...bySample.entries()].map(([, entry]) =>
    h(
      'div',
      { class: 'samples' },
      ['parallel', 'sequential'].map((mode) => {
        if (!entry[mode]) return h('div', { class: 'sample hint' }, `no ${mode} sample`);
        const card = sampleCard(entry[mode]);
        cards.push(card);
        return card;
      }),
    ),
  );
  main.append(
    h('p', { class: 'back' }, h('a', { href: '/', id: 'back' }, '← all problems')),
    h(
      'section',
      { class: 'panel', id: 'problem', 'data-problem-id': p.problemId },
      h('h2', {}, `${p.dataset} / ${p.problemId}${p.family ? ` · ${p.family}` : ''}`),
      h('pre', { class: 'text' }, p.problem ?? '(the run did not store the problem text)'),
      h('p', {}, 'gold answer: ', h('b', {}, p.gold)),
    ),
    ...grid,
  );
  // One x scale for every timeline on the page: the samples are compared by their lengths.
  const end = Math.max(...cards.map((c) => timelineEnd(c.timelineModel)));
  for (const c of cards) renderTimeline(c.timelineEl, c.timelineModel, { end });
}

async function listPage() {
  const run = await getJson('/api/run');
  document.getElementById('where').textContent = run.dir;
  main.append(...[summaryPanel(run), chartsPanel(run), problemsPanel(run)].filter(Boolean));
}

async function init() {
  const params = new URLSearchParams(location.search);
  try {
    if (location.pathname === '/problem') await problemPage(params);
    else await listPage();
    status('done', '');
  } catch (err) {
    status('error', `error: ${err.message}`);
    if (location.pathname !== '/')
      document.getElementById('status').append(h('a', { href: '/', id: 'back' }, '← all problems'));
  }
}

void init();
