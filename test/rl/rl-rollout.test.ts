import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTrie, contextIdsOf, expandCalls } from '../../rl/calls.js';
import { rewardConfig } from '../../rl/reward.js';
import { readRollouts, rolloutUid, type RolloutRow } from '../../rl/rollout-row.js';
import { pendingFile, runRollouts, type RolloutOptions } from '../../rl/rollout.js';
import { rolloutWarnings, summarizeRollouts } from '../../rl/summary.js';
import { callContextIds } from '../../src/orchestrator/trajectory.js';
import { solve } from '../../src/solve/solve.js';
import { flattenTrie } from '../../src/trie/index.js';
import {
  behaviourOf,
  scriptedSolve,
  scriptFor,
  toyDataset,
  toyEngine,
  type ScriptedLog,
} from '../support/rl-scripted.js';
import { ScriptedEngine } from '../support/scripted-engine.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-rollout-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const G = 4;

function options(out: string, extra: Partial<RolloutOptions> = {}): RolloutOptions {
  return { dataset: toyDataset, group: G, out, engine: toyEngine, solve: scriptedSolve(), seedBase: 7, ...extra };
}

const keyOf = (r: RolloutRow): string => `${r.problemId}/${r.sample}`;
/** What must not change between an interrupted and an uninterrupted run (timings do). */
const content = (r: RolloutRow) => ({
  key: keyOf(r),
  seed: r.seed,
  text: r.text,
  reward: r.reward,
  advantage: r.advantage,
  calls: r.calls.map((c) => c.completionIds),
});

describe('trajectory calls', () => {
  it('expands each call to the context the engine saw, and builds the merged trie of the calls', async () => {
    const engine = new ScriptedEngine(scriptFor(2)); // a parallel trajectory: sequential, 2 threads, sequential
    const r = await solve('Q', { engine });
    const calls = expandCalls(r.trajectory);
    expect(calls.map((c) => c.role.kind)).toEqual(['sequential', 'thread', 'thread', 'sequential']);
    calls.forEach((c, i) => {
      expect(c.contextIds).toEqual(engine.tokenizer.encode(engine.requests[i]!.context));
      expect(c.completionIds).toEqual(r.trajectory.calls[i]!.completionIds);
    });
    // The last call ended on EOS: asked for, its id closes the completion.
    expect(expandCalls(r.trajectory, { eosId: 2 }).at(-1)!.completionIds.at(-1)).toBe(2);
    expect(expandCalls(r.trajectory, { eosId: 2 })[1]!.completionIds).toEqual(calls[1]!.completionIds);

    const layout = flattenTrie(callTrie(r.trajectory));
    // Every call's context + completion is a root path; trained exactly where a call generated.
    const trained = layout.loss.reduce((s: number, x) => s + x, 0);
    expect(trained).toBe(calls.reduce((s, c) => s + c.completionIds.length, 0));
    expect(layout.ids.length).toBeLessThan(calls.reduce((s, c) => s + c.contextIds.length + c.completionIds.length, 0));
  });
});

describe('runRollouts (scripted model)', () => {
  let rows: RolloutRow[];
  let log: ScriptedLog[];
  const file = () => path.join(dir, 'full.jsonl');

  beforeAll(async () => {
    log = [];
    const result = await runRollouts(options(file(), { solve: scriptedSolve(log) }));
    expect(result).toMatchObject({ ran: 12, resumed: 0, complete: true, aborted: false });
    rows = await readRollouts(file());
    expect(result.rows.map(keyOf)).toEqual(rows.map(keyOf));
    // The summary, from what each scripted behaviour does: every answer but the wrong one is 23;
    // the wrong and parallel scripts fork one block; only the malformed one breaks the format.
    const count = (f: (b: ReturnType<typeof behaviourOf>) => boolean) =>
      rows.filter((r) => f(behaviourOf(r.seed))).length;
    expect(result.summary).toMatchObject({
      trajectories: 12,
      groups: 3,
      comparableGroups: 3,
      accuracy: count((b) => b !== 'wrong') / 12,
      parallelShare: count((b) => b === 'wrong' || b === 'parallel') / 12,
      formatValidShare: count((b) => b !== 'malformed') / 12,
    });
    expect(result.summary.meanReward).toBeCloseTo(rows.reduce((s, r) => s + r.reward, 0) / 12, 12);
  });

  it('writes G rows per problem, distinct seeds within a group, and removes the pending file', () => {
    expect(rows).toHaveLength(12);
    expect(new Set(rows.map(keyOf)).size).toBe(12);
    expect(existsSync(pendingFile(file()))).toBe(false);
    for (const p of toyDataset.problems) {
      const group = rows.filter((r) => r.problemId === p.id);
      expect(group.map((r) => r.sample).sort()).toEqual([0, 1, 2, 3]);
      expect(new Set(group.map((r) => r.seed)).size).toBe(G);
    }
    // Each trajectory was solved once, with its row's seed and the default sampling.
    expect(log.map((l) => `${l.options.problemId}/${l.options.sample}:${l.options.seed}`).sort()).toEqual(
      rows.map((r) => `${keyOf(r)}:${r.seed}`).sort(),
    );
    expect(
      log.every(
        (l) =>
          l.options.temperature === 1 &&
          l.options.topP === 1 &&
          l.options.mode === 'parallel' &&
          l.options.promptStyle === 'trained',
      ),
    ).toBe(true);
  });

  it('grades, rewards and advantages consistently with the answers', () => {
    const behaviours = new Set(rows.map((r) => behaviourOf(r.seed)));
    expect(behaviours.size).toBeGreaterThanOrEqual(3); // the fixture really mixes outcomes
    for (const r of rows) {
      const b = behaviourOf(r.seed);
      expect(r.correct).toBe(b !== 'wrong');
      expect(r.answer).toBe(b === 'wrong' ? '24' : '23');
      expect(r.formatValid).toBe(b !== 'malformed');
      expect(r.parallelBlocks).toBe(b === 'parallel' || b === 'wrong' ? 1 : 0);
      if (r.correct) {
        expect(r.reward).toBeGreaterThanOrEqual(1);
        expect(r.reward).toBeCloseTo(1 + r.rewardParts.acceleration, 12);
        expect(r.rewardParts.acceleration).toBeCloseTo(0.5 * Math.min(0.2, r.rewardParts.eta), 12);
      } else {
        expect(r.reward).toBe(-1);
        expect(r.rewardParts.acceleration).toBe(0);
      }
      if (b === 'parallel') expect(r.rewardParts.acceleration).toBeGreaterThan(0);
      if (b === 'sequential') expect(r.rewardParts.acceleration).toBe(0);
      // η in the reward counts the prompt; the row's η does not.
      const eta = 1 - (r.criticalPathTokens + r.promptTokens) / (r.totalTokens + r.promptTokens);
      expect(r.rewardParts.eta).toBeCloseTo(eta, 12);
      expect(r.settings).toEqual({
        group: 4,
        maxTokens: null,
        promptStyle: 'trained',
        prompt: { suffix: '', sequentialSystem: true, chatTemplateKwargs: {} },
        preset: 'tiny',
        reward: rewardConfig(),
        advantage: 'mean',
      });
    }
    for (const p of toyDataset.problems) {
      const group = rows.filter((r) => r.problemId === p.id);
      const mean = group.reduce((s, r) => s + r.reward, 0) / G;
      for (const r of group) expect(r.advantage).toBeCloseTo(r.reward - mean, 12);
      expect(Math.abs(group.reduce((s, r) => s + r.advantage!, 0))).toBeLessThan(1e-9);
    }
  });

  it('stores the trajectory: prompt ids, completion ids, and calls that rebuild their contexts', () => {
    for (const r of rows) {
      const engine = log.find((l) => l.options.problemId === r.problemId && l.options.sample === r.sample)!.engine;
      expect(r.promptIds).toEqual(engine.tokenizer.encode(r.prompt));
      expect(r.ids).toEqual(engine.tokenizer.encode(r.text));
      expect(r.promptTokens).toBe(r.promptIds.length);
      expect(r.eos).toBe(true);
      expect(r.eosId).toBe(2);
      expect(r.calls).toHaveLength(engine.requests.length);
      r.calls.forEach((c, i) => {
        expect(c.index).toBe(i);
        expect(c.contextIds).toBeUndefined();
        const context = contextIdsOf(r, c);
        expect(context).toEqual(engine.tokenizer.encode(engine.requests[i]!.context));
        expect(c.contextLength).toBe(context.length);
        expect(engine.tokenizer.decode(c.completionIds)).toBe(c.text);
      });
    }
  });

  it('keeps context ids when asked', async () => {
    const out = path.join(dir, 'ctx.jsonl');
    const one = { name: 'toy', problems: toyDataset.problems.slice(0, 1) };
    await runRollouts(options(out, { dataset: one, group: 2, keepContextIds: true }));
    for (const r of await readRollouts(out)) {
      for (const c of r.calls) expect(c.contextIds).toEqual(contextIdsOf(r, c));
    }
  });

  it('std advantages divide by the group std', async () => {
    const out = path.join(dir, 'std.jsonl');
    await runRollouts(options(out, { advantage: 'std' }));
    const std = await readRollouts(out);
    expect(std.every((r) => r.settings.advantage === 'std')).toBe(true);
    // Divided by the group's (sample) std: within a group with a spread the advantages sum to 0 and
    // their own sample std is 1; a group without one has advantages 0.
    for (const p of toyDataset.problems) {
      const a = std.filter((r) => r.problemId === p.id).map((r) => r.advantage!);
      const mean = a.reduce((s, x) => s + x, 0) / a.length;
      expect(Math.abs(mean)).toBeLessThan(1e-9);
      const spread = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / (a.length - 1));
      const rewards = std.filter((r) => r.problemId === p.id).map((r) => r.reward);
      if (new Set(rewards).size > 1)
        expect(spread).toBeCloseTo(1, 3); // (std + 1e-6) in the denominator
      else expect(a).toEqual(a.map(() => 0));
    }
  });

  it('a format penalty is paid by malformed trajectories only', async () => {
    const out = path.join(dir, 'penalty.jsonl');
    await runRollouts(options(out, { rewardConfig: { formatPenalty: 0.25 } }));
    const penalized = await readRollouts(out);
    expect(penalized.some((r) => !r.formatValid)).toBe(true);
    for (const r of penalized) {
      const plain = rows.find((x) => keyOf(x) === keyOf(r))!;
      expect(r.rewardParts.formatPenalty).toBe(r.formatValid ? 0 : 0.25);
      expect(r.reward).toBeCloseTo(plain.reward - r.rewardParts.formatPenalty, 12);
    }
  });

  it('a greedy rerun is not refused for the stored seeds (greedy decoding reads none)', async () => {
    const out = path.join(dir, 'greedy.jsonl');
    await runRollouts(options(out, { temperature: 0 }));
    await writeFile(out, (await readFile(out, 'utf8')).replace(/"seed":\d+/g, '"seed":7'));
    expect(await runRollouts(options(out, { temperature: 0 }))).toMatchObject({ ran: 0, resumed: 12, complete: true });
    await expect(runRollouts(options(out, { temperature: 1 }))).rejects.toThrow(/temperature 0 \(this run: 1\)/);
  });

  it('resumes after an abort: nothing solved twice, no duplicate row, same rows as an uninterrupted run', async () => {
    const out = path.join(dir, 'resume.jsonl');
    const ac = new AbortController();
    const first = await runRollouts(options(out, { signal: ac.signal, onProgress: (p) => p.done >= 6 && ac.abort() }));
    expect(first).toMatchObject({ aborted: true, complete: false, ran: 6 });
    // Group p0 is final; p1's two finished trajectories wait in the pending file.
    expect((await readRollouts(out)).map(keyOf)).toEqual(['p0/0', 'p0/1', 'p0/2', 'p0/3']);
    expect((await readRollouts(pendingFile(out))).map(keyOf)).toEqual(['p0/0', 'p0/1', 'p0/2', 'p0/3', 'p1/0', 'p1/1']);

    const log: ScriptedLog[] = [];
    const progress: number[] = [];
    const second = await runRollouts(
      options(out, { solve: scriptedSolve(log), onProgress: (p) => progress.push(p.done) }),
    );
    expect(second).toMatchObject({ aborted: false, complete: true, ran: 6, resumed: 6 });
    expect(log.map((l) => `${l.options.problemId}/${l.options.sample}`)).toEqual([
      'p1/2',
      'p1/3',
      'p2/0',
      'p2/1',
      'p2/2',
      'p2/3',
    ]);
    expect(progress[0]).toBe(6);
    const resumed = await readRollouts(out);
    expect(resumed.map(content)).toEqual(rows.map(content));
    expect(existsSync(pendingFile(out))).toBe(false);

    // A third run has nothing to do.
    const third = await runRollouts(options(out, { solve: scriptedSolve(log) }));
    expect(third).toMatchObject({ ran: 0, resumed: 12, complete: true });
    expect(log).toHaveLength(6);
  });

  it('finishes a group whose final rows were cut short, and repairs a torn pending line', async () => {
    const out = path.join(dir, 'cut.jsonl');
    // The state a kill leaves while the p0 group's rows are being written: all of p0 and one p1
    // trajectory pending, two p0 rows final, half a line at the end of the pending file.
    const line = (r: RolloutRow) => JSON.stringify(r) + '\n';
    const pendingRows = rows
      .filter((r) => r.problemId === 'p0' || keyOf(r) === 'p1/0')
      .map(({ advantage: _, ...r }) => r as RolloutRow);
    await writeFile(
      pendingFile(out),
      pendingRows.map(line).join('') + line(rows.find((r) => keyOf(r) === 'p1/1')!).slice(0, 50),
    );
    await writeFile(out, rows.slice(0, 2).map(line).join(''));
    const log: ScriptedLog[] = [];
    const result = await runRollouts(options(out, { solve: scriptedSolve(log) }));
    expect(result).toMatchObject({ ran: 7, resumed: 5, complete: true });
    expect(log.map((l) => `${l.options.problemId}/${l.options.sample}`)).not.toContain('p0/2');
    const final = await readRollouts(out);
    expect(final.map(keyOf)).toEqual(['p0/0', 'p0/1', 'p0/2', 'p0/3', ...rows.slice(4).map(keyOf)]);
    expect(final.map(content)).toEqual(rows.map(content));
  });

  it('refuses to resume with other settings, naming the file', async () => {
    const out = path.join(dir, 'settings.jsonl');
    const ac = new AbortController();
    await runRollouts(options(out, { signal: ac.signal, onProgress: (p) => p.done >= 2 && ac.abort() }));
    await expect(runRollouts(options(out, { temperature: 0.7 }))).rejects.toThrow(
      `${pendingFile(out)}: p0 sample 0 was made with temperature 1 (this run: 0.7)`,
    );
    await expect(runRollouts(options(out, { rewardConfig: { correctReward: 2 } }))).rejects.toThrow(
      /reward config .*Use another output file/,
    );
    await expect(runRollouts(options(out, { seedBase: 8 }))).rejects.toThrow(/with seed \d+ \(this run: \d+\)/);
    await expect(runRollouts(options(out, { promptStyle: 'instructed' }))).rejects.toThrow(
      'prompt style "trained" (this run: "instructed")',
    );
    await expect(runRollouts(options(out, { preset: 'threadweaver-qwen3-8b' }))).rejects.toThrow(
      'preset "tiny" (this run: "threadweaver-qwen3-8b")',
    );
    await expect(runRollouts(options(out, { prompt: { suffix: ' Box it.' } }))).rejects.toThrow(
      /prompt \{"suffix":"".*\(this run: \{"suffix":" Box it\."/,
    );
    // The same settings resume fine.
    expect((await runRollouts(options(out))).complete).toBe(true);
  });

  it('names a bad stored row by file and line', async () => {
    const out = path.join(dir, 'bad.jsonl');
    const { reward: _, ...noReward } = rows[0]!;
    await writeFile(out, JSON.stringify(rows[1]) + '\n' + JSON.stringify(noReward) + '\n');
    await expect(runRollouts(options(out))).rejects.toThrow(`${out}:2: field "reward"`);
  });

  it('a solve error stops the run naming the trajectory; what finished is kept', async () => {
    const out = path.join(dir, 'fail.jsonl');
    const failing = scriptedSolve([], (o) => o.problemId === 'p1' && o.sample === 2);
    await expect(runRollouts(options(out, { solve: failing }))).rejects.toThrow(
      'rollout stopped at p1 sample 2: engine down',
    );
    expect((await readRollouts(out)).map(keyOf)).toEqual(['p0/0', 'p0/1', 'p0/2', 'p0/3']);
    expect((await readRollouts(pendingFile(out))).map(keyOf)).toContain('p1/1');
    expect((await runRollouts(options(out))).complete).toBe(true);
  });

  it('checks its options', async () => {
    await expect(runRollouts(options(path.join(dir, 'x.jsonl'), { group: 0 }))).rejects.toThrow(
      /group must be a whole number/,
    );
    await expect(runRollouts(options(path.join(dir, 'x.jsonl'), { concurrency: 1.5 }))).rejects.toThrow(/concurrency/);
  });

  it('concurrent trajectories still give one row each and the same content', async () => {
    const out = path.join(dir, 'conc.jsonl');
    await runRollouts(options(out, { concurrency: 3 }));
    const conc = await readRollouts(out);
    const byKey = (a: RolloutRow, b: RolloutRow) => keyOf(a).localeCompare(keyOf(b));
    expect(conc.sort(byKey).map(content)).toEqual([...rows].sort(byKey).map(content));
  });

  it('uids name a trajectory; rows match callContextIds of the live trajectory', async () => {
    expect(rolloutUid(rows[0]!)).toBe('toy/p0/parallel/0');
    const engine = new ScriptedEngine(scriptFor(rows[0]!.seed));
    const live = await solve(rows[0]!.problem, { engine, temperature: 1, seed: rows[0]!.seed });
    expect(live.trajectory.calls.map((c) => callContextIds(live.trajectory, c))).toEqual(
      rows[0]!.calls.map((c) => contextIdsOf(rows[0]!, c)),
    );
  });
});

describe('rollout files on disk', () => {
  it('final and pending rows are whole lines', async () => {
    const out = path.join(dir, 'lines.jsonl');
    await runRollouts(options(out));
    const text = await readFile(out, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trim().split('\n')).toHaveLength(12);
    await appendFile(out, '\n');
    expect(await readRollouts(out)).toHaveLength(12); // blank lines are skipped
  });
});

describe('reward spread', () => {
  const row = (problemId: string, reward: number, text: string, correct = reward > 0) => ({
    dataset: 'd',
    problemId,
    mode: 'parallel' as const,
    reward,
    correct,
    acceleration: 0,
    parallelBlocks: 0,
    formatValid: true,
    text,
  });
  it('counts groups without spread, tells identical samples from equal rewards, and says so', () => {
    const rows = [
      ...['a', 'a', 'a'].map((t) => row('same', 1, t)), // identical samples
      row('allWrong', -1, 'x'),
      row('allWrong', -1, 'y'), // different texts, all wrong
      row('signal', 1, 'p'),
      row('signal', -1, 'q'), // a spread
      row('alone', 1, 'z'), // one member: no spread to ask of it
    ];
    const s = summarizeRollouts(rows);
    expect(s).toMatchObject({ groups: 4, comparableGroups: 3, flatGroups: 2, identicalGroups: 1 });
    const w = rolloutWarnings(s, { temperature: 1 });
    expect(w).toHaveLength(3);
    expect(w[0]).toMatch(/^2 of 3 groups have zero reward spread/);
    expect(w[1]).toMatch(
      /^In 1 of them every sample is the same text: at temperature 1 the model is near-deterministic/,
    );
    expect(w[2]).toMatch(/^In 1 of them the texts differ but got the same reward/);
    expect(rolloutWarnings(s, { temperature: 0 })[1]).toMatch(
      /^In 1 of them every sample is the same text: at temperature 0 decoding is greedy\. Raise --temperature/,
    );
    expect(
      rolloutWarnings(summarizeRollouts(rows.filter((r) => r.problemId === 'signal')), { temperature: 1 }),
    ).toEqual([]);
  });
});
