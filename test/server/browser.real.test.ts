import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, startViewer, type RunningServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { hasChromium, launchBrowser } from '../support/browser.js';
import { makeEvalRun } from '../support/run-fixtures.js';
import { postJson } from '../support/server-http.js';
import { fourThreadEngine, FOUR_PROBLEM, makeFourThreadRun } from '../support/web-fixtures.js';

// What the functions run in the page use (this tsconfig has no DOM library).
declare const document: any, innerWidth: number, innerHeight: number;
declare function requestAnimationFrame(f: () => void): number;
declare function getComputedStyle(el: unknown): { color: string; getPropertyValue(name: string): string };

/** Two frames on: resize observers (the lanes' columns, the timelines' widths) have run. */
const nextFrames = (page: Page) =>
  page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));

const ENDED = ['done', 'error', 'stopped', 'budget', 'context', 'transitions']
  .map((s) => `#status[data-state="${s}"]`)
  .join(', ');
/** The run has ended, one way or another (an empty status line is hidden, so: attached, not visible). */
const finished = (page: Page) => page.waitForSelector(ENDED, { timeout: 120_000, state: 'attached' });

// The web pages in a real headless Chromium, against real servers on 127.0.0.1.
describe.skipIf(!hasChromium)('in the browser', () => {
  let context: BrowserContext;
  let dir: string;
  let gw: RunningServer;
  const external: string[] = [];
  const errors: string[] = [];
  const problem = 'Compute 37*24 + 18*53 - 29*11.';

  beforeAll(async () => {
    ({ context, dir } = await launchBrowser());
    gw = await startGateway({ engine: await embeddedEngine(), port: 0 });
  });
  afterAll(async () => {
    await context?.close();
    await gw?.close();
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    const origin = new URL(url).origin;
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) external.push(r.url());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(url);
    return page;
  }

  it('a problem typed in the live view gives one lane per thread, with the texts the API returns', async () => {
    const page = await open(`${gw.url}/`);
    expect(await page.isHidden('#key-box')).toBe(true);
    expect(await page.isVisible('#models-link a')).toBe(true);
    await page.fill('#problem', problem);
    await page.click('#run');
    await finished(page);
    expect(await page.getAttribute('#status', 'data-state')).toBe('done');
    const api = (await postJson(`${gw.baseURL}/chat/completions`, { messages: [{ role: 'user', content: problem }] }))
      .body.threadweaver;
    // The lanes show what the model wrote, without the closing `</Thread>` the API's text ends with.
    const expected = api.blocks.flatMap((b: any) =>
      b.threads.map((t: any) => [`${b.block}.${t.thread}`, t.text.replace(/\n?<\/Thread>\s*$/, '')]),
    );
    expect(expected).toHaveLength(3);
    expect(api.blocks[0].threads[0].text).toMatch(/<\/Thread>$/);
    const lanes = await page.$$eval('.lane', (ls) =>
      ls.map((l) => [l.getAttribute('data-thread'), l.querySelector('.lane-text')!.textContent]),
    );
    expect(lanes).toEqual(expected);
    expect(await page.textContent('#answer')).toContain('1523');
    expect(await page.textContent('[data-metric="T"] .v')).toBe(String(api.metrics.totalTokens));
    expect(await page.textContent('[data-metric="L"] .v')).toBe(String(api.metrics.criticalPathTokens));
    // The timeline: the phases row and one per thread, the longest thread on the critical path.
    expect(await page.$$eval('.timeline rect[data-kind="thread"]', (r) => r.length)).toBe(3);
    expect(await page.$$eval('.timeline rect[data-kind="thread"][data-critical="true"]', (r) => r.length)).toBe(1);
    await page.screenshot({ path: path.join(dir, 'live.png'), fullPage: true });
    expect(existsSync(path.join(dir, 'live.png'))).toBe(true);
    await page.close();
  });

  it('/?problem=… runs at once; "compare with sequential" shows the speedup against the sequential run', async () => {
    const page = await open(`${gw.url}/?compare=1&problem=${encodeURIComponent(problem)}`);
    await finished(page);
    expect(await page.inputValue('#problem')).toBe(problem);
    const par = (await postJson(`${gw.baseURL}/chat/completions`, { messages: [{ role: 'user', content: problem }] }))
      .body.threadweaver.metrics;
    const seq = (
      await postJson(`${gw.baseURL}/chat/completions`, {
        model: 'threadweaver-sequential',
        messages: [{ role: 'user', content: problem }],
      })
    ).body.threadweaver.metrics;
    expect(await page.textContent('[data-metric="speedup"] .v')).toBe(
      `${(seq.totalTokens / par.criticalPathTokens).toFixed(2)}×`,
    );
    expect(await page.isVisible('#baseline-panel')).toBe(true);
    expect(await page.textContent('#baseline')).not.toContain('<Parallel>');
    await page.screenshot({ path: path.join(dir, 'compare.png'), fullPage: true });
    await page.close();
  });

  it('asks for the API key when the gateway has one', async () => {
    const keyed = await startGateway({ engine: await embeddedEngine(), port: 0, apiKey: 'page-key' });
    try {
      const page = await open(`${keyed.url}/`);
      await page.waitForSelector('#key-box:not([hidden])');
      // A link would open a 401 page: behind a key the header has none.
      expect(await page.isHidden('#models-link')).toBe(true);
      await page.fill('#problem', 'Compute 71*52.');
      await page.fill('#api-key', 'wrong');
      await page.click('#run');
      await finished(page);
      expect(await page.textContent('#status')).toMatch(/API key was refused/);
      await page.fill('#api-key', 'page-key');
      await page.click('#run');
      await page.waitForSelector('#status[data-state="done"]', { timeout: 120_000 });
      expect(await page.textContent('#answer')).toContain('3692');
      await page.close();
    } finally {
      await keyed.close();
    }
  });

  it('takes the model ids from the server: a gateway serving "tw" runs from the page, compare included', async () => {
    const log: string[] = [];
    const renamed = await startGateway({
      engine: await embeddedEngine(),
      port: 0,
      modelName: 'tw',
      apiKey: 'k2',
      log: (l) => log.push(l),
    });
    try {
      const page = await open(`${renamed.url}/`);
      await page.waitForSelector('#key-box:not([hidden])');
      await page.fill('#api-key', 'k2');
      await page.fill('#problem', 'Compute 71*52.');
      await page.check('#compare');
      await page.click('#run');
      await finished(page);
      expect(await page.getAttribute('#status', 'data-state')).toBe('done');
      expect(await page.textContent('#answer')).toContain('3692');
      expect(await page.isVisible('#baseline-panel')).toBe(true);
      expect(log.filter((l) => l.startsWith('POST /v1/chat/completions 200'))).toHaveLength(2);
      await page.close();
    } finally {
      await renamed.close();
    }
  });

  it('the run viewer lists the rows of a small run and opens one', async () => {
    const run = await makeEvalRun(path.join(await mkdtemp(path.join(tmpdir(), 'tw-view-run-')), 'run'), 3);
    const viewer = await startViewer({ target: run });
    try {
      const page = await open(`${viewer.url}/`);
      await finished(page);
      const ids = await page.$$eval('tr[data-problem-id]', (rows) =>
        rows.map((r) => r.getAttribute('data-problem-id')),
      );
      expect(ids).toEqual(['arith-2026-0', 'arith-2026-1', 'arith-2026-2']);
      expect(
        await page.$$eval('.charts img', (imgs) => imgs.every((i) => (i as { naturalWidth: number }).naturalWidth > 0)),
      ).toBe(true);
      await page.selectOption('#sort', 'speedup-desc');
      const speedups = await page.$$eval('tr[data-problem-id]', (rows) =>
        rows.map((r) => Number(r.getAttribute('data-speedup'))),
      );
      expect(speedups).toEqual([...speedups].sort((a, b) => b - a));
      await page.selectOption('#outcome', 'incorrect');
      const incorrect = await page.$$eval('tr[data-problem-id]', (rows) => rows.length);
      await page.selectOption('#outcome', 'all');
      await page.screenshot({ path: path.join(dir, 'viewer.png'), fullPage: true });
      expect(incorrect).toBeLessThanOrEqual(3);

      await page.click('tr[data-problem-id="arith-2026-0"] a');
      await finished(page);
      expect(await page.getAttribute('#problem', 'data-problem-id')).toBe('arith-2026-0');
      const modes = await page.$$eval('.sample[data-mode]', (s) => s.map((x) => x.getAttribute('data-mode')));
      expect(modes).toEqual(['parallel', 'sequential']);
      const api = (await (await fetch(`${viewer.url}/api/problem?dataset=arith&id=arith-2026-0`)).json()) as {
        samples: { row: { mode: string; threads: number } }[];
      };
      const threads = api.samples.find((s) => s.row.mode === 'parallel')!.row.threads;
      expect(await page.$$eval('.sample[data-mode="parallel"] .lane', (l) => l.length)).toBe(threads);
      expect(await page.$$eval('.sample[data-mode="parallel"] .timeline rect', (r) => r.length)).toBeGreaterThan(
        threads,
      );
      await page.screenshot({ path: path.join(dir, 'problem.png'), fullPage: true });
      await page.close();
    } finally {
      await viewer.close();
    }
  });

  it('loaded nothing from outside and logged no errors', () => {
    expect(external).toEqual([]);
    expect(errors.filter((e) => !/401 \(Unauthorized\)/.test(e))).toEqual([]);
  });
});

// What a person sees of a four-thread block and of each way a run can end. A scripted engine writes
// the run (behind a real gateway, or through the real eval runner for the viewer), so the four
// threads and the cut-off points are the same on every machine.
describe.skipIf(!hasChromium)('four threads and every ending, in the browser', () => {
  let context: BrowserContext;
  let run: Awaited<ReturnType<typeof makeFourThreadRun>>;
  const errors: string[] = [];
  const servers: { close(): Promise<void> }[] = [];
  const q = encodeURIComponent(FOUR_PROBLEM);

  beforeAll(async () => {
    ({ context } = await launchBrowser());
    run = await makeFourThreadRun(path.join(await mkdtemp(path.join(tmpdir(), 'tw-four-')), 'run'));
  });
  afterAll(async () => {
    await context?.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  async function gateway(options: Parameters<typeof fourThreadEngine>[0] = {}): Promise<RunningServer> {
    const gw = await startGateway({ engine: fourThreadEngine(options), port: 0 });
    servers.push(gw);
    return gw;
  }
  async function open(url: string, width = 1280): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/404 \(Not Found\)/.test(m.text())) errors.push(m.text());
    });
    await page.setViewportSize({ width, height: 800 });
    await page.goto(url);
    return page;
  }

  /** Where each lane of the page's first block is, against the viewport, the block and the page. */
  async function laneBoxes(page: Page) {
    await nextFrames(page); // the lanes fit their columns in the frame after a resize
    return page.$eval('.block', (block) => {
      block.scrollIntoView({ block: 'start' });
      const lanes = block.querySelector('.lanes')!;
      return {
        viewport: { width: innerWidth, height: innerHeight },
        pageScrollsSideways: document.documentElement.scrollWidth > innerWidth,
        blockScrollsSideways: lanes.scrollWidth > lanes.clientWidth,
        lanes: [...lanes.querySelectorAll('.lane')].map((l) => {
          const r = l.getBoundingClientRect();
          const head = l.querySelector('.lane-head')!.getBoundingClientRect();
          const text = l.querySelector('.lane-text')!;
          return {
            left: r.left,
            right: r.right,
            top: r.top,
            headBottom: head.bottom,
            scrollsInside: text.scrollHeight > text.clientHeight,
          };
        }),
      };
    });
  }

  function expectAllLanesInView(b: Awaited<ReturnType<typeof laneBoxes>>) {
    expect(b.lanes).toHaveLength(4);
    expect(b.pageScrollsSideways).toBe(false);
    expect(b.blockScrollsSideways).toBe(false);
    for (const l of b.lanes) {
      expect(l.left).toBeGreaterThanOrEqual(0);
      expect(l.right).toBeLessThanOrEqual(b.viewport.width);
    }
    // The long third thread scrolls in its lane instead of pushing the others out of sight.
    expect(b.lanes[2]!.scrollsInside).toBe(true);
  }

  it('the live view: all four lanes in view at 1280 px (one row) and stacked at 400 px; blocks from 1; no </Thread>', async () => {
    const gw = await gateway();
    const page = await open(`${gw.url}/?problem=${q}`);
    await finished(page);
    expect(await page.getAttribute('#status', 'data-state')).toBe('done');
    const wide = await laneBoxes(page);
    expectAllLanesInView(wide);
    expect(new Set(wide.lanes.map((l) => Math.round(l.top))).size).toBe(1);
    for (const l of wide.lanes) expect(l.headBottom).toBeLessThanOrEqual(wide.viewport.height);
    await page.setViewportSize({ width: 400, height: 800 });
    const phone = await laneBoxes(page);
    expectAllLanesInView(phone);
    expect(new Set(phone.lanes.map((l) => Math.round(l.left))).size).toBe(1); // one column

    expect(await page.textContent('.block-head')).toMatch(/^parallel block 1 · 4 threads/);
    expect(await page.$$eval('.timeline .row-label', (t) => t.map((x) => x.textContent))).toEqual([
      'phases',
      'block 1 · thread 1',
      'block 1 · thread 2',
      'block 1 · thread 3',
      'block 1 · thread 4',
    ]);
    expect(await page.innerText('main')).not.toMatch(/block 0/);
    const texts = await page.$$eval('.lane-text', (t) => t.map((x) => x.textContent!));
    expect(texts).toHaveLength(4);
    for (const t of texts) expect(t).not.toContain('</Thread>');
    expect(texts[0]).toMatch(/So 37\*24 = 888\.$/);
    // The critical path (thread 3, the longest) is marked in its own colour, not the error red, and the legend says so.
    expect(await page.getAttribute('.lane[data-thread="0.3"]', 'data-critical')).toBe('true');
    expect(await page.textContent('.lane[data-thread="0.3"] .lane-info')).toContain('critical path');
    expect(await page.textContent('.legend')).toContain('critical path');
    const colors = await page.evaluate(() => {
      const css = getComputedStyle(document.documentElement);
      return {
        critical: getComputedStyle(document.querySelector('.lane[data-critical="true"] .lane-head')).color,
        bad: css.getPropertyValue('--bad').trim(),
        criticalVar: css.getPropertyValue('--critical').trim(),
      };
    });
    expect(colors.criticalVar).not.toBe(colors.bad);
    expect(colors.critical).not.toBe('rgb(185, 28, 28)'); // --bad
    expect(await page.textContent('#answer')).toBe(`Answer: 1679`);
    await page.close();
  });

  it('stopped, budget spent, context full and an error: each says so in its own colour; nothing is left "writing"', async () => {
    const seen = new Map<string, string>();
    const ending = async (page: Page, state: string, status: RegExp, answer: RegExp) => {
      await finished(page);
      expect(await page.getAttribute('#status', 'data-state')).toBe(state);
      expect(await page.textContent('#status')).toMatch(status);
      expect(await page.textContent('#answer')).toMatch(answer);
      expect(await page.getAttribute('#answer', 'data-state')).toBe(state);
      expect(await page.$$('.lane[data-state="running"]')).toHaveLength(0);
      expect(await page.innerText('main')).not.toContain('writing');
      seen.set(state, await page.$eval('#status', (s) => getComputedStyle(s).color));
    };

    const slow = await gateway({ tokenDelayMs: 20 });
    let page = await open(`${slow.url}/?problem=${q}`);
    await page.waitForSelector('.lane[data-state="running"]', { timeout: 60_000 });
    await page.click('#stop');
    await ending(page, 'stopped', /^■ stopped after /, /^Stopped before an answer\.$/);
    expect(await page.$$eval('.lane', (l) => l.map((x) => x.getAttribute('data-state')))).toEqual(
      Array(4).fill('stopped'),
    );
    expect(await page.textContent('.lane-state')).toBe('■ stopped');
    await page.close();

    const gw = await gateway();
    page = await open(`${gw.url}/?maxTokens=120&problem=${q}`);
    await ending(
      page,
      'budget',
      /^⚠ budget spent: the run was cut off after 120 tokens/,
      /^No answer: the budget ran out first\.$/,
    );
    await page.close();

    const short = await gateway({ contextLength: 260 });
    page = await open(`${short.url}/?problem=${q}`);
    await ending(
      page,
      'context',
      /^⚠ context full: the run was cut off/,
      /^No answer: the model's context filled up first\.$/,
    );
    expect(await page.$$eval('.lane-state', (l) => l.map((x) => x.textContent))).toEqual(
      Array(4).fill('cut: context full'),
    );
    await page.close();

    const failing = await gateway({ failOnCall: 1 });
    page = await open(`${failing.url}/?problem=${q}`);
    await ending(page, 'error', /^✕ error: .*scripted failure/, /^The run failed: .*scripted failure/);
    expect(await page.$$eval('.lane', (l) => l.map((x) => x.getAttribute('data-state')))).toEqual(
      Array(4).fill('error'),
    );
    await page.close();

    page = await open(`${gw.url}/?problem=${q}`);
    await finished(page);
    seen.set('done', await page.$eval('#status', (s) => getComputedStyle(s).color));
    expect(new Set(seen.values()).size).toBe(5);
    await page.close();
  });

  it('"compare with sequential" is offered in parallel mode only', async () => {
    const gw = await gateway();
    const page = await open(`${gw.url}/?mode=sequential`);
    expect(await page.isHidden('#compare-box')).toBe(true);
    await page.selectOption('#mode', 'parallel');
    expect(await page.isVisible('#compare-box')).toBe(true);
    await page.selectOption('#mode', 'sequential');
    await page.fill('#problem', FOUR_PROBLEM);
    await page.click('#run');
    await finished(page);
    expect(await page.isHidden('#baseline-panel')).toBe(true);
    expect(await page.textContent('#run-title')).toBe('sequential run');
    await page.close();
  });

  it('the run viewer: four lanes in view at 1280 and 400 px, one x scale for both timelines, blocks from 1', async () => {
    const viewer = await startViewer({ target: run.dir, tokenizer: run.engine.tokenizer });
    servers.push(viewer);
    const page = await open(`${viewer.url}/problem?dataset=arith&id=four-0`);
    await finished(page);
    expect(await page.isHidden('#status')).toBe(true); // an empty status line takes no room
    const wide = await laneBoxes(page);
    expectAllLanesInView(wide);
    for (const l of wide.lanes) expect(l.headBottom).toBeLessThanOrEqual(wide.viewport.height);
    await page.setViewportSize({ width: 400, height: 800 });
    const phone = await laneBoxes(page);
    expectAllLanesInView(phone);
    expect(new Set(phone.lanes.map((l) => Math.round(l.left))).size).toBe(1);
    await page.setViewportSize({ width: 1280, height: 800 });
    await nextFrames(page);

    expect(await page.textContent('.block-head')).toMatch(/^parallel block 1 · 4 threads/);
    expect(await page.textContent('.sample[data-mode="parallel"] .hint')).toContain('1 block, 4 threads');
    expect(await page.innerText('main')).not.toMatch(/block 0|1 blocks/);
    // The text after the block starts where the model went on, not with a blank line.
    const after = await page.$$eval('.sample[data-mode="parallel"] .trajectory > .seq', (s) =>
      s.map((x) => x.textContent!),
    );
    expect(after.at(-1)).toMatch(/^888 \+ 954/);

    // One scale: the same ticks under both timelines, and each run's bars as long as its L in the same pixels per token.
    const scales = await page.$$eval('.sample[data-mode]', (cards) =>
      cards.map((card) => {
        const axis = card.querySelector('.timeline line.axis')!.getBoundingClientRect();
        const phases = [
          ...card.querySelectorAll('.timeline rect[data-kind="sequential"], .timeline rect[data-kind="parallel"]'),
        ];
        const right = Math.max(...phases.map((r) => r.getBoundingClientRect().right));
        const hint = card.querySelector('.hint')!.textContent!;
        return {
          mode: card.getAttribute('data-mode'),
          ticks: [...card.querySelectorAll('.timeline .tick:not(.unit)')].map((t) => t.textContent),
          pxPerToken: (right - axis.left) / Number(/ L (\d+)/.exec(hint)![1]),
          axisWidth: axis.width,
        };
      }),
    );
    expect(scales.map((s) => s.mode)).toEqual(['parallel', 'sequential']);
    expect(scales[0]!.ticks).toEqual(scales[1]!.ticks);
    expect(scales[0]!.axisWidth).toBeCloseTo(scales[1]!.axisWidth, 0);
    expect(scales[1]!.pxPerToken / scales[0]!.pxPerToken).toBeCloseTo(1, 1);
    // The unit sits on its own line, below the first tick rather than running into it.
    const [unit, first] = await page.$$eval('.sample[data-mode="parallel"] .timeline', ([t]) => [
      t!.querySelector('.tick.unit')!.getBoundingClientRect().top,
      t!.querySelector('.tick:not(.unit)')!.getBoundingClientRect().bottom,
    ]);
    expect(unit).toBeGreaterThanOrEqual(first);
    await page.close();
  });

  it('the unknown-problem page says so and links back to the list', async () => {
    const viewer = await startViewer({ target: run.dir, tokenizer: run.engine.tokenizer });
    servers.push(viewer);
    const page = await open(`${viewer.url}/problem?dataset=arith&id=nope`);
    await finished(page);
    expect(await page.textContent('#status')).toContain('no problem arith/nope');
    await page.click('#back');
    await page.waitForSelector('tr[data-problem-id="four-0"]');
    await page.close();
  });

  it('logged no errors', () => {
    expect(errors).toEqual([]);
  });
});
