import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveTokenizer } from '../../src/engine/remote/openai.js';
import { loadRun, problemView, runOverview, startViewer } from '../../src/server/index.js';
import { getJson } from '../support/server-http.js';
import { makeEvalRun, makeRollouts } from '../support/run-fixtures.js';
import { makeFourThreadRun } from '../support/web-fixtures.js';

let dir: string;
let evalRun: string;
let rollouts: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tw-view-'));
  [evalRun, rollouts] = await Promise.all([
    makeEvalRun(path.join(dir, 'eval'), 3),
    makeRollouts(path.join(dir, 'rl', 'r.jsonl'), 2, 2),
  ]);
});

describe('run loader', () => {
  it('reads an eval run: problems with both modes, summary from the eval harness, charts, laid-out samples', async () => {
    const run = await loadRun(evalRun);
    expect(run.kind).toBe('eval');
    expect(run.rows).toHaveLength(6);
    const o = runOverview(run);
    expect(o.problems.map((p) => p.problemId)).toEqual(['arith-2026-0', 'arith-2026-1', 'arith-2026-2']);
    expect(o.problems[0]!.problem).toMatch(/^Compute /);
    expect(o.problems[0]!.modes.parallel?.samples).toBe(1);
    expect(o.datasets.arith!.parallel!.samples).toBe(3);
    expect(o.charts.length).toBeGreaterThan(0);
    const withBlocks = run.rows.find((r) => r.mode === 'parallel' && r.parallelBlocks > 0)!;
    const view = problemView(run, 'arith', withBlocks.problemId, await resolveTokenizer())!;
    const sample = view.samples.find((s) => s.row.mode === 'parallel')!;
    const blocks = sample.segments.filter((s) => s.kind === 'block');
    expect(blocks).toHaveLength(withBlocks.parallelBlocks);
    expect(blocks.reduce((n, b) => n + (b.kind === 'block' ? b.threads.length : 0), 0)).toBe(withBlocks.threads);
    // The timeline's critical path is the row's L.
    const phases = sample.timeline.rows[0]!.bars;
    expect(phases.at(-1)!.end).toBe(withBlocks.criticalPathTokens);
  });

  it('numbers blocks from 0 in the JSON and from 1 in the labels a person reads', async () => {
    const { dir: four, engine } = await makeFourThreadRun(path.join(dir, 'four'));
    const view = problemView(await loadRun(four), 'arith', 'four-0', engine.tokenizer)!;
    const sample = view.samples.find((s) => s.row.mode === 'parallel')!;
    const blocks = sample.segments.filter((s) => s.kind === 'block');
    expect(blocks.map((b) => b.block)).toEqual([0]);
    expect(blocks[0]!.kind === 'block' && blocks[0]!.threads.map((t) => t.thread)).toEqual(['1', '2', '3', '4']);
    // Thread texts end where the model's text does: no closing tag.
    for (const t of blocks[0]!.kind === 'block' ? blocks[0]!.threads : []) expect(t.text).not.toContain('</Thread>');
    const labels = sample.timeline.rows.map((r) => r.label);
    expect(labels).toEqual([
      'phases',
      'block 1 · thread 1',
      'block 1 · thread 2',
      'block 1 · thread 3',
      'block 1 · thread 4',
    ]);
    expect(sample.timeline.rows[0]!.bars.find((b) => b.kind === 'parallel')!.title).toMatch(/^parallel block 1: /);
    // The critical thread is the long third one, and the phases end at the row's L.
    expect(blocks[0]!.kind === 'block' && blocks[0]!.threads.map((t) => t.critical)).toEqual([
      false,
      false,
      true,
      false,
    ]);
    expect(sample.timeline.rows[0]!.bars.at(-1)!.end).toBe(sample.row.criticalPathTokens);
  });

  it('reads rollouts (rewards, advantages, pending rows) and skips a torn last line', async () => {
    const run = await loadRun(path.dirname(rollouts));
    expect(run.kind).toBe('rollouts');
    expect(run.rows).toHaveLength(4);
    expect(runOverview(run).rollouts?.trajectories).toBe(4);
    const torn = path.join(dir, 'torn.jsonl');
    await writeFile(torn, (await readFile(rollouts, 'utf8')) + '{"dataset": "ari');
    expect((await loadRun(torn)).rows).toHaveLength(4);
    await appendFile(torn, '\n');
    await expect(loadRun(torn)).rejects.toThrow(/torn\.jsonl:5: invalid JSON/);
    await expect(loadRun(path.join(dir, 'nowhere'))).rejects.toThrow(/no such run folder/);
  });

  it('serves the overview, a problem and the charts; unknown problems are 404s', async () => {
    const viewer = await startViewer({ target: evalRun });
    try {
      const o = await getJson(`${viewer.url}/api/run`);
      expect(o.body.problems).toHaveLength(3);
      const p = await getJson(`${viewer.url}/api/problem?dataset=arith&id=arith-2026-0`);
      expect(p.body.samples.map((s: any) => s.row.mode).sort()).toEqual(['parallel', 'sequential']);
      expect((await getJson(`${viewer.url}/api/problem?dataset=arith&id=nope`)).status).toBe(404);
      const chart = await fetch(`${viewer.url}/api/charts/0.svg`);
      expect(chart.headers.get('content-type')).toBe('image/svg+xml');
      expect(await chart.text()).toMatch(/^<svg/);
      expect((await fetch(`${viewer.url}/`)).headers.get('content-security-policy')).toContain("default-src 'self'");
    } finally {
      await viewer.close();
    }
  });
});
