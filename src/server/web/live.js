// The live view: runs a problem through the gateway's streaming chat API and draws the run as
// it happens, from the controller events in each chunk's `threadweaver` field.
import { ApiError, streamChat } from './sse.js';
import { criticalThreads, renderTimeline, runTimeline } from './timeline.js';

const $ = (id) => document.getElementById(id);
const KEY_STORE = 'threadweaver.apiKey';
let keyRequired = false;
let running;

function setStatus(state, text) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

function div(className, parent, text) {
  const node = document.createElement('div');
  node.className = className;
  if (text !== undefined) node.textContent = text;
  parent?.appendChild(node);
  return node;
}

/** One run drawn into `container`: sequential text, then one lane per thread of each block. */
class RunView {
  constructor(container, timeline) {
    this.container = container;
    this.timeline = timeline;
    this.container.replaceChildren();
    this.seq = undefined;
    this.blocks = new Map();
    this.lanes = new Map();
    this.t0 = performance.now();
    this.live = { phases: [], threads: [] };
    this.content = '';
    this.reasoning = '';
    this.report = undefined;
  }

  now() {
    return performance.now() - this.t0;
  }

  chunk(c) {
    const delta = c.choices?.[0]?.delta ?? {};
    const reasoning = delta.reasoning ?? delta.reasoning_content;
    if (reasoning) this.reasoning += reasoning;
    if (delta.content) this.content += delta.content;
    const e = c.threadweaver;
    if (e) this.event(e);
  }

  event(e) {
    const t = this.now();
    switch (e.type) {
      case 'phase': {
        const open = this.live.phases.at(-1);
        if (open && open.end === null) open.end = t;
        this.live.phases.push({ kind: e.phase, block: e.block, start: t, end: null });
        if (e.phase === 'sequential') this.seq = div('seq text', this.container, '');
        break;
      }
      case 'delta':
        (this.seq ??= div('seq text', this.container, '')).textContent += e.text;
        break;
      case 'outlines': {
        const el = div('block', this.container);
        el.dataset.block = String(e.block);
        el.dataset.state = 'running';
        const head = div('block-head', el);
        head.textContent = `parallel block ${e.block} · ${e.numbers.length} threads`;
        const lanes = div('lanes', el);
        this.blocks.set(e.block, { el, lanes });
        this.seq = undefined;
        break;
      }
      case 'thread:start': {
        const block = this.blocks.get(e.block);
        const lane = div('lane', block.lanes);
        lane.dataset.thread = `${e.block}.${e.thread}`;
        lane.dataset.state = 'running';
        const head = div('lane-head', lane);
        div('', head, `thread ${e.thread}`);
        const info = div('lane-info', head, '');
        const text = div('lane-text text', lane, '');
        this.lanes.set(lane.dataset.thread, { lane, info, text });
        this.live.threads.push({ block: e.block, thread: e.thread, start: t, end: null, tokens: 0 });
        break;
      }
      case 'thread:delta':
        this.lanes.get(`${e.block}.${e.thread}`).text.textContent += e.text;
        break;
      case 'thread:end': {
        const l = this.lanes.get(`${e.block}.${e.thread}`);
        l.text.textContent = e.text;
        l.lane.dataset.state = 'done';
        l.info.textContent = `${e.tokens} tokens · ${e.ms} ms${e.finishReason === 'stop' ? '' : ` · ended by ${e.finishReason}`}`;
        const live = this.live.threads.find((x) => x.block === e.block && x.thread === e.thread);
        if (live) Object.assign(live, { end: t, tokens: e.tokens });
        break;
      }
      case 'join':
        this.blocks.get(e.block).el.dataset.state = 'joined';
        break;
      case 'done':
        this.done(e);
        break;
    }
    if (e.type !== 'done') this.drawLive();
  }

  /** Redraw the live timeline at most once a frame (events come once per token). */
  drawLive() {
    if (!this.timeline || this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = undefined;
      if (!this.report) this.drawLiveNow();
    });
  }

  drawLiveNow() {
    const critical = criticalThreads(
      [...this.blocks.keys()].map((block) => ({ block, threads: this.live.threads.filter((x) => x.block === block) })),
    );
    const rows = [
      {
        label: 'phases',
        bars: this.live.phases.map((p) => ({
          start: p.start,
          end: p.end,
          kind: p.kind,
          critical: true,
          title: p.kind,
        })),
      },
    ];
    for (const x of this.live.threads) {
      rows.push({
        label: `block ${x.block} · thread ${x.thread}`,
        bars: [
          {
            start: x.start,
            end: x.end,
            kind: 'thread',
            critical: x.end !== null && critical.has(`${x.block}.${x.thread}`),
            title: `thread ${x.thread}`,
          },
        ],
      });
    }
    $('timeline-panel').hidden = false;
    renderTimeline(this.timeline, { unit: 'ms', rows }, this.now());
  }

  done(report) {
    this.report = report;
    for (const key of criticalThreads(report.blocks)) {
      const l = this.lanes.get(key);
      if (l) l.lane.dataset.critical = 'true';
    }
    if (this.timeline) renderTimeline(this.timeline, runTimeline(report));
  }
}

function metric(k, v, id) {
  const m = div('metric', $('metrics'));
  if (id) m.dataset.metric = id;
  div('k', m, k);
  div('v', m, v);
}

function showMetrics(par, seq) {
  const m = par.metrics;
  $('metrics').replaceChildren();
  $('metrics-panel').hidden = false;
  metric('T · all tokens', String(m.totalTokens), 'T');
  metric('L · critical path', String(m.criticalPathTokens), 'L');
  metric('η = 1 − L/T', m.acceleration.toFixed(3), 'eta');
  metric('parallel width T / L', `${m.parallelWidth.toFixed(2)}×`, 'parallel-width');
  metric('wall time', `${(m.wallMs / 1000).toFixed(2)} s`, 'wall');
  metric('blocks · threads', `${m.parallelBlocks} · ${m.threads}`, 'threads');
  if (seq) {
    const s = seq.metrics;
    metric('sequential T', String(s.totalTokens), 'seq-T');
    metric('sequential wall', `${(s.wallMs / 1000).toFixed(2)} s`, 'seq-wall');
    metric(
      'speedup vs sequential (tokens: T_seq / L)',
      `${(s.totalTokens / Math.max(1, m.criticalPathTokens)).toFixed(2)}×`,
      'speedup',
    );
    metric('speedup vs sequential (wall)', `${(s.wallMs / Math.max(1, m.wallMs)).toFixed(2)}×`, 'wall-speedup');
  }
}

function showAnswer(el, view) {
  el.replaceChildren();
  const r = view.report;
  if (!r) return;
  el.append('Answer: ');
  const b = document.createElement('span');
  b.className = 'boxed';
  b.textContent = r.answer ?? '(none)';
  el.appendChild(b);
  if (r.finishReason !== 'done') el.append(` (run ended: ${r.finishReason})`);
}

async function runOnce(body, view, signal) {
  for await (const chunk of streamChat(body, { apiKey: apiKey(), signal })) view.chunk(chunk);
  if (!view.report) throw new Error('the stream ended without a result');
}

function apiKey() {
  return keyRequired ? $('api-key').value.trim() : undefined;
}

async function run() {
  const problem = $('problem').value.trim();
  if (!problem) return;
  if (keyRequired && !apiKey()) {
    setStatus('error', 'Enter the API key first.');
    $('api-key').focus();
    return;
  }
  if (keyRequired) sessionStorage.setItem(KEY_STORE, apiKey());
  running?.abort();
  const abort = new AbortController();
  running = abort;
  $('run').disabled = true;
  $('stop').disabled = false;
  const mode = $('mode').value;
  const compare = $('compare').checked && mode === 'parallel';
  const body = {
    model: `threadweaver-${mode}`,
    messages: [{ role: 'user', content: problem }],
    temperature: Number($('temperature').value || 0),
  };
  const max = Number($('max-tokens').value);
  if (max > 0) body.max_tokens = max;
  $('run-panel').hidden = false;
  $('run-title').textContent = `${mode} run`;
  $('baseline-panel').hidden = true;
  $('metrics-panel').hidden = true;
  $('answer').replaceChildren();
  const view = new RunView($('trajectory'), $('timeline'));
  try {
    setStatus('running', `running (${mode})…`);
    await runOnce(body, view, abort.signal);
    showAnswer($('answer'), view);
    showMetrics(view.report);
    if (compare) {
      setStatus('running', 'running the sequential baseline…');
      $('baseline-panel').hidden = false;
      $('baseline-answer').replaceChildren();
      const baseline = new RunView($('baseline'));
      await runOnce({ ...body, model: 'threadweaver-sequential' }, baseline, abort.signal);
      showAnswer($('baseline-answer'), baseline);
      showMetrics(view.report, baseline.report);
    }
    setStatus('done', `done in ${(view.report.metrics.wallMs / 1000).toFixed(2)} s`);
  } catch (err) {
    if (abort.signal.aborted) setStatus('error', 'stopped');
    else if (err instanceof ApiError && err.status === 401) {
      $('key-box').hidden = false;
      keyRequired = true;
      setStatus('error', `The API key was refused: ${err.message}`);
    } else setStatus('error', `error: ${err.message}`);
  } finally {
    $('run').disabled = false;
    $('stop').disabled = true;
    if (running === abort) running = undefined;
  }
}

async function init() {
  try {
    const health = await (await fetch('/health')).json();
    keyRequired = health.apiKeyRequired === true;
    $('engine').textContent = `engine: ${health.engine}`;
  } catch {
    setStatus('error', 'the gateway did not answer /health');
  }
  if (keyRequired) {
    $('key-box').hidden = false;
    $('api-key').value = sessionStorage.getItem(KEY_STORE) ?? '';
  }
  $('run-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  $('stop').addEventListener('click', () => running?.abort());
  const params = new URLSearchParams(location.search);
  if (params.get('mode') === 'sequential') $('mode').value = 'sequential';
  if (params.has('compare')) $('compare').checked = params.get('compare') !== '0';
  if (params.get('maxTokens')) $('max-tokens').value = params.get('maxTokens');
  const problem = params.get('problem');
  if (problem) {
    $('problem').value = problem;
    if (!keyRequired || apiKey()) void run();
    else setStatus('idle', 'Enter the API key, then Run.');
  }
}

void init();
