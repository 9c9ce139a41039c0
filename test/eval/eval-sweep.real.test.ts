/**
 * A budget sweep from the CLI on the bundled model: every arith sample at two response budgets in
 * both modes, accuracy rising with the budget, the frontier charts written, and the sequential
 * mode's shorter runs the prefixes of its longer ones (the claim eval/README.md makes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { threadweaver } from '../support/cli.js';
import { readJsonl } from '../support/helpers.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-sweep-real-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Row {
  problemId: string;
  mode: string;
  budget: number;
  text: string;
  correct: boolean;
}

describe('eval --budgets on the bundled model', () => {
  it('arith at budgets 64 and 512, both modes: accuracy rises; sequential runs at 64 are prefixes of those at 512', async () => {
    const out = path.join(tmp, 'sweep');
    const args = ['eval', '--dataset', 'arith', '--limit', '6', '--budgets', '64,512', '--mode', 'both', '--out', out];
    const r = await threadweaver(...args);
    expect(r.code, r.stderr).toBe(0);
    const rows = readJsonl<Row>(path.join(out, 'results.jsonl'));
    expect(rows).toHaveLength(24);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    for (const mode of ['parallel', 'sequential']) {
      const acc = (b: string) => summary.budgets[b].datasets.arith[mode].accuracy as number;
      // 64 tokens cannot hold an arith trajectory to its answer; 512 holds every one the model finishes.
      expect(acc('64')).toBe(0);
      expect(acc('512')).toBeGreaterThan(acc('64'));
    }
    const seq = (b: number) => rows.filter((x) => x.mode === 'sequential' && x.budget === b);
    for (const short of seq(64)) {
      const long = seq(512).find((x) => x.problemId === short.problemId)!;
      expect(long.text.startsWith(short.text), short.problemId).toBe(true);
    }
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('## Budget sweep');
    expect(readFileSync(path.join(out, 'charts/arith-budget-frontier-tokens.svg'), 'utf8')).toContain('<svg');
    // Resumes without decoding.
    const again = await threadweaver(...args);
    expect(again.stderr).toContain('0 samples run, 24 resumed');
  });
});
