import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../eval/dataset.js';
import { readSummary } from '../../eval/summary.js';
import { runEval, type RunEvalOptions } from '../../eval/runner.js';
import type { ResultRow } from '../../eval/results.js';
import { engineSolver } from '../../src/batch/solver.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import type { GradeFn } from '../../src/math/grade.js';
import { EOS, rules } from '../support/scripted-engine.js';
import { startScriptedServer, TWO_THREADS, type ScriptedServer } from '../support/scripted-http.js';
import { readJsonl } from '../support/helpers.js';

// An eval through a remote engine: each sample's key on its requests and in its row, stable on
// resume; the prefill ledger in the rows, summary.json and report.md.
const model = rules(
  ...TWO_THREADS,
  // The sequential prompt has its own system text: the model answers at once.
  [/./, `<think>\nSo 23.\n</think>\nThe answer is \\boxed{23}.${EOS}`],
);
const grade: GradeFn = (pred, gold) => ({ equal: pred === gold, reason: pred === gold ? 'equal' : 'different' });
const toy: Dataset = {
  name: 'toy',
  problems: [
    { id: 'p1', problem: 'Q one', answer: '23' },
    { id: 'p2', problem: 'Q two', answer: '23' },
  ],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-prefill-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function evalOn(out: string, o: { cache: boolean }) {
  const s = await startScriptedServer(model, o);
  servers.push(s);
  const engine = await OpenAIEngine.connect({ baseUrl: s.url, tokenizer: s.engine.tokenizer, promptFormat: 'text' });
  const options: RunEvalOptions = {
    datasets: [toy],
    k: 2,
    modes: ['parallel', 'sequential'],
    concurrency: 2,
    temperature: 0,
    topP: 1,
    seedBase: 0,
    out,
    solve: engineSolver(engine),
    grade,
    progress: false,
  };
  return { s, run: () => runEval(options) };
}
const keysSent = (s: ScriptedServer) =>
  s.requests.filter((r) => r.path === '/v1/completions').map((r) => String(r.headers['x-session-id']));

describe('eval through a remote engine: affinity keys and the prefill ledger', () => {
  it('one key per sample on every request and in its row; the same key when the sample is resumed', async () => {
    const out = path.join(dir, 'keys');
    const first = await evalOn(out, { cache: true });
    await first.run();
    const rows = readJsonl<ResultRow>(path.join(out, 'results.jsonl'));
    expect(rows).toHaveLength(8);
    const keys = rows.map((r) => r.affinityKey!);
    expect(new Set(keys).size).toBe(8);
    const sent = keysSent(first.s);
    for (const r of rows) {
      const calls = sent.filter((k) => k === r.affinityKey).length;
      expect(calls, `${r.problemId} ${r.sample} ${r.mode}`).toBe(r.mode === 'parallel' ? 4 : 1);
    }
    expect(sent.every((k) => keys.includes(k))).toBe(true);

    // Drop the last row: the rerun solves that sample again, under the key it had.
    const text = await readFile(path.join(out, 'results.jsonl'), 'utf8');
    const lines = text.trimEnd().split('\n');
    await writeFile(path.join(out, 'results.jsonl'), lines.slice(0, -1).join('\n') + '\n');
    const dropped = rows[rows.length - 1]!;
    const again = await evalOn(out, { cache: true });
    const result = await again.run();
    expect(result.ran).toBe(1);
    expect(new Set(keysSent(again.s))).toEqual(new Set([dropped.affinityKey]));
    const resumed = readJsonl<ResultRow>(path.join(out, 'results.jsonl'));
    expect(resumed).toHaveLength(8);
    expect(resumed[7]!.affinityKey).toBe(dropped.affinityKey);
  });

  it('rows, summary.json and report.md keep prompt and cached tokens by phase and what each join cost', async () => {
    const out = path.join(dir, 'ledger');
    const { run } = await evalOn(out, { cache: true });
    await run();
    const rows = readJsonl<ResultRow>(path.join(out, 'results.jsonl'));
    const summary = await readSummary(out);
    const par = summary.datasets.toy!.parallel!;
    const seq = summary.datasets.toy!.sequential!;
    const parRows = rows.filter((r) => r.mode === 'parallel');
    const sum = (rs: ResultRow[], f: (r: ResultRow) => number) => rs.reduce((s, r) => s + f(r), 0);
    for (const phase of ['sequential', 'threadStarts', 'afterJoin'] as const) {
      expect(par.promptTokens![phase]).toBe(sum(parRows, (r) => r.prefill!.phases[phase].promptTokens));
      expect(par.cachedPromptTokens![phase]).toBe(sum(parRows, (r) => r.prefill!.phases[phase].cachedPromptTokens!));
    }
    expect(par.promptTokens!.total).toBe(
      par.promptTokens!.sequential + par.promptTokens!.threadStarts + par.promptTokens!.afterJoin,
    );
    // Thread starts and the continuations reuse what came before them; the sequential mode never forks.
    expect(par.cachedPromptTokens!.threadStarts).toBeGreaterThan(0);
    expect(par.cachedPromptTokens!.afterJoin).toBeGreaterThan(0);
    expect(seq.promptTokens!.threadStarts).toBe(0);
    expect(seq.joinPrefill).toEqual([]);
    expect(par.joinPrefill).toHaveLength(1);
    expect(par.joinPrefill![0]).toMatchObject({ block: 0, joins: 4 });
    expect(par.joinPrefill![0]!.promptTokens).toBe(sum(parRows, (r) => r.prefill!.joins[0]!.promptTokens));

    const report = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(report).toContain('## Prefill');
    const j = par.joinPrefill![0]!;
    const prefilled = ((j.promptTokens - j.cachedPromptTokens!) / j.joins).toFixed(0);
    expect(report).toMatch(new RegExp(`\\| toy \\| parallel \\| 1 \\| 4 \\| [^|]+ \\| [^|]+ \\| ${prefilled} \\|`));
  });

  it('a server that does not report cached tokens: the cached figures are null and shown as –', async () => {
    const out = path.join(dir, 'unreported');
    const { run } = await evalOn(out, { cache: false });
    await run();
    const par = (await readSummary(out)).datasets.toy!.parallel!;
    expect(par.promptTokens!.total).toBeGreaterThan(0);
    expect(par.cachedPromptTokens).toEqual({ sequential: null, threadStarts: null, afterJoin: null, total: null });
    const report = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| toy \| parallel \| [^|]+ \| – \| – \|/);
  });
});
