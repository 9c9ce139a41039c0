/**
 * `threadweaver eval rescore RUN_DIR`: a run folder in the layout of an older version (rows
 * without extraction policy, settings or lenient verdict; a summary without provenance,
 * uncertainty or the new estimators) is graded again from its stored texts, and one that cannot
 * be (no texts, no summary) says why and is left as it was.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rescoreRun } from '../../eval/rescore.js';
import { summarizeRun, readSummary } from '../../eval/summary.js';
import { runEval } from '../../eval/runner.js';
import { GRADER_VERSION } from '../../src/math/grade.js';
import { threadweaver } from '../support/cli.js';
import { readJsonl } from '../support/helpers.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';
import { scriptedEvalOptions } from '../support/scripted-eval.js';

const block = (a: string, b: string) =>
  `<think>\nTwo parts.\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>\n<Thread>\n1: ${a}\n</Thread><Thread>\n2: ${b}\n</Thread>\n</Parallel>\n`;

/** Rows as an older version wrote them: no extract, settings, lenient verdict or budget. */
const oldRows = [
  // Graded wrong by the old grader although the box is right: re-grading fixes it.
  {
    problemId: 'p1',
    mode: 'parallel',
    gold: '3',
    answer: '3',
    correct: false,
    text: `${block('1', '2')}So 3.\n</think>\n\\boxed{3}`,
  },
  // No box: no answer under the boxed policy, 3 under the lenient one.
  {
    problemId: 'p1',
    mode: 'sequential',
    gold: '3',
    answer: null,
    correct: false,
    text: '<think>\n1 + 2 = 3.\n</think>\nThe answer is 3.',
  },
  // A brace-less \frac the grader reads since this version; threads answered out of order (lenient only).
  {
    problemId: 'p2',
    mode: 'parallel',
    gold: '\\frac{a}{b}',
    answer: '\\fracab',
    correct: false,
    text: `${block('b', 'a').replace('1: b', '2: b').replace('2: a', '1: a')}</think>\n\\boxed{\\fracab}`,
  },
  {
    problemId: 'p2',
    mode: 'sequential',
    gold: '\\frac{a}{b}',
    answer: '\\frac{a}{b}',
    correct: true,
    text: '<think>\na over b.\n</think>\n\\boxed{\\frac{a}{b}}',
  },
].map((r, i) => ({
  dataset: 'toy',
  sample: 0,
  seed: i,
  temperature: 0,
  topP: 1,
  gradeReason: 'old grader',
  formatValid: true,
  parallelBlocks: r.mode === 'parallel' ? 1 : 0,
  threads: r.mode === 'parallel' ? 2 : 0,
  totalTokens: 100,
  criticalPathTokens: r.mode === 'parallel' ? 60 : 100,
  acceleration: r.mode === 'parallel' ? 0.4 : 0,
  wallMs: 50,
  ...r,
}));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-rescore-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A run folder of the older layout: its rows, and a summary with none of the newer fields. */
async function oldRunFolder(name: string, rows: Array<Record<string, unknown>> = oldRows): Promise<string> {
  const out = path.join(dir, name);
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'results.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  const config = { k: 1, modes: ['parallel', 'sequential'] as const, temperature: 0, topP: 1, seedBase: 0 };
  const summary = summarizeRun(oldRows as never, { ...config, modes: [...config.modes] }, ['toy']) as unknown as {
    uncertainty?: unknown;
    datasets: Record<string, Record<string, Record<string, unknown> | null>>;
  };
  delete summary.uncertainty;
  for (const g of Object.values(summary.datasets))
    for (const mode of ['parallel', 'sequential'])
      for (const field of ['passAt', 'majAt', 'gPassAt', 'formatCorrectLenient', 'accuracyStderr', 'accuracyCI95'])
        delete g[mode]![field];
  await writeFile(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2));
  return out;
}

describe('eval rescore', () => {
  it('re-grades an older run folder from its texts, records it in provenance, and rewrites the files', async () => {
    const out = await oldRunFolder('old');
    const r = await threadweaver('eval', 'rescore', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`4 rows re-graded (extract boxed, grader ${GRADER_VERSION}): 2 changed verdict`);
    const rows = readJsonl<Record<string, unknown>>(path.join(out, 'results.jsonl'));
    expect(rows.map((x) => x.correct)).toEqual([true, false, true, true]);
    expect(rows.map((x) => x.extract)).toEqual(['boxed', 'boxed', 'boxed', 'boxed']);
    expect(rows[1]!.answer).toBeNull();
    // The strict and lenient checks again: p2's threads are answered out of order.
    expect(rows.map((x) => [x.formatValid, x.formatValidLenient])).toEqual([
      [true, true],
      [true, true],
      [false, true],
      [true, true],
    ]);
    const s = await readSummary(out);
    expect(s.provenance!.rescored).toMatchObject({
      graderVersion: GRADER_VERSION,
      extract: 'boxed',
      rows: 4,
      changed: 2,
    });
    expect(Date.parse(s.provenance!.rescored!.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(s.provenance!.version).toMatch(/^unknown/);
    expect(s.datasets.toy!.parallel!.accuracy).toBe(1);
    expect(s.datasets.toy!.sequential!.accuracy).toBe(0.5);
    expect(s.datasets.toy!.parallel!.formatCorrect).toBe(0.5);
    expect(s.datasets.toy!.parallel!.formatCorrectLenient).toBe(1);
    expect(s.datasets.toy!.parallel!.passAt).toEqual({ '1': 1 });
    expect(s.uncertainty).toBeDefined();
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('| toy | parallel |');
    expect(readFileSync(path.join(out, 'charts/toy-speedup.svg'), 'utf8')).toContain('<svg');
  });

  it('--extract lenient reads the unboxed answer line and is recorded as the run’s policy', async () => {
    const out = await oldRunFolder('lenient');
    const r = await threadweaver('eval', 'rescore', out, '--extract', 'lenient');
    expect(r.code, r.stderr).toBe(0);
    const s = await readSummary(out);
    expect(s.datasets.toy!.sequential!.accuracy).toBe(1);
    expect(s.config.extract).toBe('lenient');
    expect(s.provenance!.extract).toBe('lenient');
    expect(s.provenance!.rescored!.extract).toBe('lenient');
    expect(readJsonl<{ answer: string }>(path.join(out, 'results.jsonl'))[1]!.answer).toBe('3');
  });

  it('says exactly why a folder cannot be rescored, and writes nothing', async () => {
    const textless = await oldRunFolder(
      'no-text',
      oldRows.map(({ text: _, ...r }) => r),
    );
    const before = await readFile(path.join(textless, 'results.jsonl'), 'utf8');
    const r = await threadweaver('eval', 'rescore', textless);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      '4 of 4 rows were stored without their text (the run was made with keepText: false), first toy/p1 sample 0 (parallel): there is nothing to re-grade',
    );
    expect(await readFile(path.join(textless, 'results.jsonl'), 'utf8')).toBe(before);

    const unfinished = await oldRunFolder('no-summary');
    await rm(path.join(unfinished, 'summary.json'));
    await expect(rescoreRun(unfinished)).rejects.toThrow(/no summary\.json: the run never finished/);
    await expect(rescoreRun(path.join(dir, 'nowhere'))).rejects.toThrow(/no results\.jsonl: not a run folder/);
    expect((await threadweaver('eval', 'rescore')).code).toBe(2);
    expect((await threadweaver('eval', 'rescore', unfinished, '--extract', 'loose')).code).toBe(2);
  });

  it('rescores a sweep point by point', async () => {
    const out = path.join(dir, 'sweep');
    const script = rules([/assistant\n$/, `<think>\nSo 3.\n</think>\nThe answer is \\boxed{3}.${EOS}`]);
    const toy = { name: 'toy', problems: [{ id: 'p1', problem: 'Add.', answer: '3' }] };
    await runEval(scriptedEvalOptions(out, new ScriptedEngine(script), [toy], { budgets: [5, 100] }));
    const before = await readSummary(out);
    const r = await rescoreRun(out);
    expect(r.changed).toBe(0);
    expect(Object.keys(r.summary.budgets!)).toEqual(['5', '100']);
    expect(r.summary.budgets!['100']!.datasets.toy!.parallel!.accuracy).toBe(1);
    expect(r.summary.budgets!['5']!.datasets.toy!.parallel!.accuracy).toBe(0);
    expect(r.summary.budgets).toEqual(before.budgets);
  });
});
