/**
 * Budget sweeps through the real controller on a scripted engine: what a shorter budget's run is
 * to a longer one's (a prefix in sequential mode, not in parallel mode: the threads' lockstep
 * shares change), the rows and summary of `budgets` and `threadBudgets`, and resume.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../eval/dataset.js';
import { resultKey } from '../../eval/results.js';
import { runEval, type RunEvalOptions } from '../../eval/runner.js';
import { readSummary } from '../../eval/summary.js';
import { solve } from '../../src/solve/solve.js';
import { readJsonl } from '../support/helpers.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';
import { scriptedEvalOptions } from '../support/scripted-eval.js';

const OUTLINES =
  '<think>\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>';
const THREAD_1 = ' a = 1, the first of the two parts, worked out in full.\n</Thread>';
const THREAD_2 = ' b = 2, the second of the two parts, worked out in full.\n</Thread>';
const END = `</Parallel>\nSo 3.\n</think>\nThe answer is \\boxed{3}.${EOS}`;

/** A model that forks in parallel mode and writes the same steps as one chain in sequential mode. */
const script = rules(
  [/<Thread>\n1:$/, THREAD_1],
  [/<Thread>\n2:$/, THREAD_2],
  [/<\/Thread>\n$/, END],
  [/sequentially[\s\S]*assistant\n$/, `${OUTLINES}\n<Thread>\n1:${THREAD_1}<Thread>\n2:${THREAD_2}\n${END}`],
  [/assistant\n$/, OUTLINES],
);

const toy: Dataset = {
  name: 'toy',
  problems: ['p1', 'p2', 'p3'].map((id) => ({ id, problem: `Add the parts of ${id}.`, answer: '3' })),
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-sweep-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const options = (out: string, engine: ScriptedEngine, extra: Partial<RunEvalOptions> = {}): RunEvalOptions =>
  scriptedEvalOptions(out, engine, [toy], { format: 'threadweaver', ...extra });

describe('is a shorter budget’s run the prefix of a longer one’s?', () => {
  const at = async (mode: 'parallel' | 'sequential', maxTokens: number) =>
    (await solve('Q', { engine: new ScriptedEngine(script), mode, maxTokens, temperature: 0 })).text;

  it('sequential mode: yes, one call cut at the budget', async () => {
    const full = await at('sequential', 1000);
    for (const budget of [20, 45, 80, 120]) {
      const short = await at('sequential', budget);
      expect(full.startsWith(short), `budget ${budget}`).toBe(true);
    }
  });

  it('parallel mode: no, the threads share what is left in lockstep and are closed where the budget ends', async () => {
    const full = await at('parallel', 1000);
    const opening = new ScriptedEngine(script).tokenizer.count(OUTLINES);
    const short = await at('parallel', opening + 20);
    expect(full.startsWith(short)).toBe(false);
    // Each thread got 10 of the 20 tokens left, then its closer; the block was closed.
    expect(short).toBe(
      `${OUTLINES}\n<Thread>\n1:${THREAD_1.slice(0, 10)}\n</Thread><Thread>\n2:${THREAD_2.slice(0, 10)}\n</Thread>\n</Parallel>`,
    );
  });
});

describe('runEval with budgets', () => {
  it('runs every sample at each budget, keys rows by it, and summarizes each point', async () => {
    const out = path.join(dir, 'budgets');
    const engine = new ScriptedEngine(script);
    const res = await runEval(options(out, engine, { budgets: [400, 20, 60] }));
    expect(res.ran).toBe(18);
    const rows = readJsonl<Record<string, unknown>>(path.join(out, 'results.jsonl'));
    // Problem by problem, each problem's points side by side (under the same load), both modes each.
    expect(rows.map((r) => r.budget)).toEqual([
      20, 20, 60, 60, 400, 400, 20, 20, 60, 60, 400, 400, 20, 20, 60, 60, 400, 400,
    ]);
    for (const r of rows) expect((r.settings as { maxTokens: number }).maxTokens).toBe(r.budget);
    // The engine was asked for at most each point's budget.
    expect(Math.max(...engine.requests.slice(0, 2).map((q) => q.maxTokens))).toBeLessThanOrEqual(20);

    const s = await readSummary(out);
    expect(s.config.budgets).toEqual([20, 60, 400]);
    expect(Object.keys(s.budgets!)).toEqual(['20', '60', '400']);
    const acc = (b: string, mode: 'parallel' | 'sequential') => s.budgets![b]!.datasets.toy![mode]!.accuracy;
    expect([acc('20', 'parallel'), acc('400', 'parallel')]).toEqual([0, 1]);
    expect([acc('20', 'sequential'), acc('400', 'sequential')]).toEqual([0, 1]);
    // The top level is the largest budget's.
    expect(s.datasets).toEqual(s.budgets!['400']!.datasets);
    const l = (b: string) => s.budgets![b]!.datasets.toy!.parallel!.meanCriticalPathTokens;
    expect(l('20')).toBeLessThan(l('400'));

    const report = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Budget sweep');
    expect(report).toMatch(/\| toy \| 20 \| parallel \| 0\.0% \|/);
    for (const axis of ['tokens', 'wall']) {
      const file = path.join(out, `charts/toy-budget-frontier-${axis}.svg`);
      expect(existsSync(file)).toBe(true);
      expect(report).toContain(`(charts/toy-budget-frontier-${axis}.svg)`);
      const svg = await readFile(file, 'utf8');
      expect(svg.match(/<circle /g)).toHaveLength(6);
      expect(svg).toContain('>400</text>');
    }
  });

  it('resumes a sweep as a run resumes, and runs only the new point when one is added', async () => {
    const out = path.join(dir, 'budgets-resume');
    await runEval(options(out, new ScriptedEngine(script), { budgets: [20, 400] }));
    const again = await runEval(options(out, new ScriptedEngine(script), { budgets: [20, 400] }));
    expect([again.ran, again.resumed]).toEqual([0, 12]);
    const more = await runEval(options(out, new ScriptedEngine(script), { budgets: [20, 60, 400] }));
    expect([more.ran, more.resumed]).toEqual([6, 12]);
    expect(readJsonl(path.join(out, 'results.jsonl'))).toHaveLength(18);
    // The plain run in the same folder is a run of its own: its rows carry no budget.
    const plain = await runEval(options(out, new ScriptedEngine(script), { maxTokens: 400 }));
    expect([plain.ran, plain.resumed]).toEqual([6, 0]);
    expect((await readSummary(out)).budgets).toBeUndefined();
  });

  it('keeps the key of a row without a budget, so run folders from before sweeps resume', () => {
    const row = { dataset: 'toy', problemId: 'p1', sample: 0, mode: 'parallel' as const };
    expect(resultKey(row)).toBe('["toy","p1",0,"parallel"]');
    expect(resultKey({ ...row, budget: 64 })).toBe('["toy","p1",0,"parallel",{"budget":64}]');
    expect(resultKey({ ...row, threadBudget: 8 })).toBe('["toy","p1",0,"parallel",{"threadBudget":8}]');
  });

  it('thread budgets cap each thread through the format; the sequential mode, which never forks, runs once', async () => {
    const out = path.join(dir, 'threads');
    const engine = new ScriptedEngine(script);
    await runEval(options(out, engine, { threadBudgets: [8, 100], maxTokens: 400 }));
    const rows = readJsonl<Record<string, unknown>>(path.join(out, 'results.jsonl'));
    const par = rows.filter((r) => r.mode === 'parallel');
    const seq = rows.filter((r) => r.mode === 'sequential');
    expect(par.map((r) => r.threadBudget)).toEqual([8, 100, 8, 100, 8, 100]);
    expect(par.map((r) => (r.settings as { format: string }).format)).toEqual(
      [8, 100, 8, 100, 8, 100].map((t) => `threadweaver:thread-tokens=${t}`),
    );
    expect(seq).toHaveLength(3);
    for (const r of seq) {
      expect(r.threadBudget).toBeUndefined();
      expect((r.settings as { format: string }).format).toBe('threadweaver');
    }
    // A capped thread is closed at 8 tokens.
    expect(par[0]!.text).toContain(`1:${THREAD_1.slice(0, 8)}\n</Thread>`);
    const s = await readSummary(out);
    expect(s.config.threadBudgets).toEqual([8, 100]);
    const at = (t: string) => s.threadBudgets![t]!.datasets.toy!;
    expect(at('8').sequential).toEqual(at('100').sequential);
    expect(at('8').parallel!.meanTotalTokens).toBeLessThan(at('100').parallel!.meanTotalTokens);
    expect(s.datasets).toEqual(s.threadBudgets!['100']!.datasets);
    expect(await readFile(path.join(out, 'report.md'), 'utf8')).toContain('## Thread-budget sweep');
  });

  it('refuses bad points', async () => {
    const engine = new ScriptedEngine(script);
    await expect(runEval(options(path.join(dir, 'bad'), engine, { budgets: [0] }))).rejects.toThrow(
      /budgets must be whole numbers ≥ 1, got 0/,
    );
    await expect(runEval(options(path.join(dir, 'bad'), engine, { threadBudgets: [8, 8] }))).rejects.toThrow(
      /threadBudgets repeat: 8, 8/,
    );
  });
});

describe('eval --budgets / --thread-budgets flags', () => {
  it('refuse bad lists, and --budgets with --max-tokens', async () => {
    const { threadweaver } = await import('../support/cli.js');
    const zero = await threadweaver('eval', '--dataset', 'arith', '--limit', '1', '--budgets', '0,64');
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--budgets');
    const words = await threadweaver('eval', '--dataset', 'arith', '--limit', '1', '--thread-budgets', '8,x');
    expect(words.code).toBe(2);
    expect(words.stderr).toContain('--thread-budgets');
    const both = await threadweaver(
      'eval',
      '--dataset',
      'arith',
      '--limit',
      '1',
      '--budgets',
      '64',
      '--max-tokens',
      '9',
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--budgets sweeps the response budget: give it or --max-tokens, not both');
  });
});
