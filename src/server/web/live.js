// The live view: runs a problem through the gateway's streaming chat API and draws the run as
// it happens, from the controller events in each chunk's `threadweaver` field. Events number
// blocks from 0; what the page shows numbers them from 1.
import { lanesBox, plural, threadBody } from './lanes.js';
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

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;

/** How a run ended, in the words and colour (the `data-state`) the page shows it with. */
const ENDINGS = {
  done: { state: 'done' },
  'thread-eos': { state: 'done' },
  budget: { state: 'budget', why: 'the budget ran out', title: 'budget spent', lane: 'cut: budget spent' },
  context: { state: 'context', why: "the model's context filled up", title: 'context full', lane: 'cut: context full' },
  transitions: {
    state: 'transitions',
    why: 'the transition cap was reached',
    title: 'transition cap reached',
    lane: 'cut: transition cap',
  },
  abort: { state: 'stopped', why: 'the run was stopped', title: 'stopped', lane: '■ stopped' },
};
const ending = (report) => ENDINGS[report.finishReason] ?? ENDINGS.done;

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
    this.halted = undefined;
    this.content = '';
    this.reasoning = '';
    this.report = undefined;
  }

  now() {
    return this.halted?.at ?? performance.now() - this.t0;
  }

  /** Whether the run drew anything (a refused request draws nothing). */
  isEmpty() {
    return this.container.childElementCount === 0;
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
        div('block-name', head, `parallel block ${e.block + 1} · ${plural(e.numbers.length, 'thread')}`);
        const state = div('block-state', head, '');
        const lanes = lanesBox();
        el.appendChild(lanes);
        this.blocks.set(e.block, { el, lanes, state });
        this.seq = undefined;
        break;
      }
      case 'thread:start': {
        const block = this.blocks.get(e.block);
        const lane = div('lane', block.lanes);
        lane.dataset.thread = `${e.block}.${e.thread}`;
        lane.dataset.state = 'running';
        const head = div('lane-head', lane);
        div('lane-name', head, `thread ${e.thread}`);
        const info = div('lane-info', head, '');
        const state = div('lane-state', head, '● writing');
        const text = div('lane-text text', lane, '');
        this.lanes.set(lane.dataset.thread, { lane, info, state, text, raw: '' });
        this.live.threads.push({ block: e.block, thread: e.thread, start: t, end: null, tokens: 0 });
        break;
      }
      case 'thread:delta': {
        const l = this.lanes.get(`${e.block}.${e.thread}`);
        l.raw += e.text;
        this.write(l, threadBody(l.raw, false));
        break;
      }
      case 'thread:end': {
        const l = this.lanes.get(`${e.block}.${e.thread}`);
        l.raw = e.text;
        this.write(l, threadBody(e.text));
        const cut = e.finishReason === 'length' || e.finishReason === 'abort';
        l.lane.dataset.state = cut ? 'cut' : 'done';
        l.state.textContent = cut ? 'cut off' : '';
        l.info.textContent = `${e.tokens} tokens · ${e.ms} ms`;
        const live = this.live.threads.find((x) => x.block === e.block && x.thread === e.thread);
        if (live) Object.assign(live, { end: t, tokens: e.tokens, cut });
        break;
      }
      case 'join': {
        const b = this.blocks.get(e.block);
        b.el.dataset.state = 'joined';
        b.state.textContent = 'joined';
        break;
      }
      case 'done':
        this.done(e);
        break;
    }
    if (e.type !== 'done') this.drawLive();
  }

  /** A lane's text as it grows; a lane scrolled to its end follows the text. */
  write(l, text) {
    const box = l.text;
    const follow = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.textContent = text;
    if (follow) box.scrollTop = box.scrollHeight;
  }

  /** The run ended early ('stopped' by the user, or an 'error'): nothing is still writing. */
  halt(state) {
    if (this.report || this.halted) return;
    this.halted = { at: performance.now() - this.t0, state };
    const words = state === 'stopped' ? '■ stopped' : '✕ failed';
    for (const l of this.lanes.values()) {
      if (l.lane.dataset.state !== 'running') continue;
      l.lane.dataset.state = state;
      l.state.textContent = words;
    }
    for (const b of this.blocks.values()) {
      if (b.el.dataset.state !== 'running') continue;
      b.el.dataset.state = state;
      b.state.textContent = state === 'stopped' ? 'stopped before the join' : 'failed before the join';
    }
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = undefined;
    if (this.timeline && (this.live.phases.length || this.live.threads.length)) this.drawLiveNow();
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
          cut: Boolean(this.halted) && p.end === null,
          title: p.kind === 'parallel' ? `parallel block ${p.block + 1}` : p.kind,
        })),
      },
    ];
    for (const x of this.live.threads) {
      rows.push({
        label: `block ${x.block + 1} · thread ${x.thread}`,
        bars: [
          {
            start: x.start,
            end: x.end,
            kind: 'thread',
            critical: x.end !== null && critical.has(`${x.block}.${x.thread}`),
            cut: x.cut || (Boolean(this.halted) && x.end === null),
            title: `block ${x.block + 1} · thread ${x.thread}`,
          },
        ],
      });
    }
    $('timeline-panel').hidden = false;
    renderTimeline(this.timeline, { unit: 'ms', rows }, { now: this.now() });
  }

  done(report) {
    this.report = report;
    for (const key of criticalThreads(report.blocks)) {
      const l = this.lanes.get(key);
      if (!l) continue;
      l.lane.dataset.critical = 'true';
      l.info.textContent += ' · critical path';
    }
    const end = ending(report);
    // A thread cut off says by what, in that ending's colour.
    for (const l of this.lanes.values()) {
      if (l.lane.dataset.state !== 'cut' || !end.lane) continue;
      l.lane.dataset.state = end.state === 'done' ? 'cut' : end.state;
      l.state.textContent = end.lane;
    }
    if (this.timeline) {
      $('timeline-panel').hidden = false;
      renderTimeline(this.timeline, runTimeline(report));
    }
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

/** The answer line: the answer in green only when the run finished; otherwise what cut it, in that state's colour. */
function showAnswer(el, view) {
  el.replaceChildren();
  const r = view.report;
  if (!r) return;
  const end = ending(r);
  el.dataset.state = r.answer === null && end.state === 'done' ? 'none' : end.state;
  if (r.answer === null) {
    el.textContent =
      end.state === 'done' ? 'No answer: the model finished without writing one.' : `No answer: ${end.why} first.`;
    return;
  }
  el.append('Answer: ');
  const b = document.createElement('span');
  b.className = 'boxed';
  b.textContent = r.answer;
  el.appendChild(b);
  if (end.why) el.append(` (then ${end.why} and the run was cut off)`);
}

/** The answer line of a run that never reported: stopped or failed. */
function showHalt(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
}

/** The status line once every run has reported. */
function finalStatus(par, seq) {
  for (const [name, r] of [
    ['', par],
    ['the sequential baseline: ', seq],
  ]) {
    if (!r) continue;
    const end = ending(r);
    if (end.state === 'done') continue;
    return [
      end.state,
      `⚠ ${name}${end.title}: the run was cut off after ${r.metrics.totalTokens} tokens (${seconds(r.metrics.wallMs)})`,
    ];
  }
  const also = seq ? ` (the sequential baseline in ${seconds(seq.metrics.wallMs)})` : '';
  return ['done', `✓ done in ${seconds(par.metrics.wallMs)}${also}`];
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
  $('timeline-panel').hidden = true;
  const view = new RunView($('trajectory'), $('timeline'));
  let current = view;
  let answer = $('answer');
  try {
    setStatus('running', `running (${mode})…`);
    body.model = await modelFor(mode);
    await runOnce(body, view, abort.signal);
    showAnswer($('answer'), view);
    showMetrics(view.report);
    let baseline;
    if (compare) {
      setStatus('running', 'running the sequential baseline…');
      $('baseline-panel').hidden = false;
      $('baseline-answer').replaceChildren();
      baseline = current = new RunView($('baseline'));
      answer = $('baseline-answer');
      await runOnce({ ...body, model: await modelFor('sequential') }, baseline, abort.signal);
      showAnswer($('baseline-answer'), baseline);
      showMetrics(view.report, baseline.report);
    }
    setStatus(...finalStatus(view.report, baseline?.report));
  } catch (err) {
    const stopped = abort.signal.aborted;
    current.halt(stopped ? 'stopped' : 'error');
    if (stopped) {
      setStatus('stopped', `■ stopped after ${seconds(current.now())}: what was written until then is kept below`);
      showHalt(answer, 'stopped', 'Stopped before an answer.');
    } else if (err instanceof ApiError && err.status === 401) {
      $('key-box').hidden = false;
      keyRequired = true;
      setStatus('error', `✕ The API key was refused: ${err.message}`);
    } else {
      setStatus('error', `✕ error: ${err.message}`);
      showHalt(answer, 'error', `The run failed: ${err.message}`);
    }
    // A request refused before the run began leaves nothing to show.
    if (current.isEmpty()) (current === view ? $('run-panel') : $('baseline-panel')).hidden = true;
  } finally {
    $('run').disabled = false;
    $('stop').disabled = true;
    if (running === abort) running = undefined;
  }
}

/** Each mode's model id as the server lists it (GET /v1/models): `--served-model-name` renames them. */
let modelIds;
async function modelFor(mode) {
  if (!modelIds) {
    const res = await fetch('/v1/models', { headers: keyRequired ? { authorization: `Bearer ${apiKey()}` } : {} });
    if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => undefined));
    const listed = (await res.json()).data ?? [];
    modelIds = {};
    for (const m of listed)
      if (['parallel', 'sequential'].includes(m.threadweaver?.mode)) modelIds[m.threadweaver.mode] ??= m.id;
  }
  if (!modelIds[mode]) throw new Error(`the server lists no ${mode} model at /v1/models`);
  return modelIds[mode];
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
  // Behind a key, /v1/models is a 401 page to a browser that follows a link: no link then.
  $('models-link').hidden = keyRequired;
  $('run-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void run();
  });
  $('stop').addEventListener('click', () => running?.abort());
  // "Compare with sequential" means nothing in sequential mode.
  const compareOffered = () => ($('compare-box').hidden = $('mode').value === 'sequential');
  $('mode').addEventListener('change', compareOffered);
  const params = new URLSearchParams(location.search);
  if (params.get('mode') === 'sequential') $('mode').value = 'sequential';
  compareOffered();
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
