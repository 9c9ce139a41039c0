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
  const finished = (page: Page) =>
    page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 120_000 });

  it('a problem typed in the live view gives one lane per thread, with the texts the API returns', async () => {
    const page = await open(`${gw.url}/`);
    expect(await page.isHidden('#key-box')).toBe(true);
    await page.fill('#problem', problem);
    await page.click('#run');
    await finished(page);
    expect(await page.getAttribute('#status', 'data-state')).toBe('done');
    const api = (await postJson(`${gw.baseURL}/chat/completions`, { messages: [{ role: 'user', content: problem }] }))
      .body.threadweaver;
    const expected = api.blocks.flatMap((b: any) => b.threads.map((t: any) => [`${b.block}.${t.thread}`, t.text]));
    expect(expected).toHaveLength(3);
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
