/**
 * RL rollouts: G trajectories per problem with distinct seeds, each graded and rewarded, and
 * once a problem's group is complete, its group-relative advantages.
 *
 * Two append-only JSONL stores (src/jsonl-store.ts: one synced line per row, torn last line repaired):
 * - `<out>.pending.jsonl` (see pendingFile): every trajectory as soon as it finishes;
 * - `<out>`: the rows of complete groups, with their advantage, written when the group completes.
 * A killed run loses at most the trajectories in flight; a rerun skips every stored trajectory,
 * finishes groups whose final rows were cut short, and never writes a row twice. The pending file
 * is removed once everything in it is final.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Dataset, Problem } from '../eval/dataset.js';
import { runJobs } from '../src/batch/job-pool.js';
import { progressBar, type ProgressStream } from '../src/batch/progress.js';
import { deriveSeed } from '../src/internal/random.js';
import { GREEDY_BELOW } from '../src/engine/sampling.js';
import {
  describeDifferences,
  differingSettings,
  SettingsMismatchError,
  type SettingDifference,
} from '../src/batch/setting-differences.js';
import { resultKey, resultRow, type Mode, type ResultKey } from '../eval/results.js';
import { openJsonlStore, type JsonlStore } from '../src/batch/jsonl-store.js';
import type { Engine } from '../src/engine/types.js';
import { gradeAnswer, type GradeFn, type GradeResult } from '../src/math/grade.js';
import { promptFormat, type PromptFormat, type PromptStyle } from '../src/orchestrator/prompt.js';
import { DEFAULT_PRESET } from '../src/solve/preset.js';
import { solve } from '../src/solve/solve.js';
import { type SolveResult } from '../src/solve/types.js';
import { embeddedEngine } from '../src/engine/load.js';
import { computeAdvantages } from './advantage.js';
import { contextIdsOf } from './calls.js';
import { computeReward, rewardConfig, type RewardConfig } from './reward.js';
import {
  parseRolloutLine,
  RolloutFileError,
  type AdvantageMode,
  type RolloutRow,
  type RolloutSettings,
} from './rollout-row.js';
import { rolloutWarnings, summarizeRollouts, type RolloutSummary } from './summary.js';

export interface RolloutSolveOptions {
  mode: Mode;
  seed: number;
  temperature: number;
  topP: number;
  maxTokens?: number | undefined;
  promptStyle: PromptStyle;
  prompt: PromptFormat;
  /** The trajectory format (see solve's `format`). */
  format?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Which sample this is (for logging; solvers need not read it). */
  problemId: string;
  sample: number;
}

/** Produces one trajectory; the default is `solve()` on the run's engine. */
export type RolloutSolveFn = (problem: string, options: RolloutSolveOptions) => Promise<SolveResult>;

export interface RolloutProgress {
  /** Trajectories stored (resumed ones included) out of `total`. */
  done: number;
  total: number;
  /** Trajectories found stored at the start. */
  resumed: number;
  /** Groups whose final rows are written. */
  groupsDone: number;
  groupsTotal: number;
  /** Over the stored trajectories of this run's plan; null before the first. */
  accuracy: number | null;
  meanReward: number | null;
  elapsedMs: number;
  last?: { problemId: string; sample: number; correct: boolean; reward: number };
}

export interface RolloutOptions {
  dataset: Dataset;
  /** Trajectories per problem (≥ 1). */
  group: number;
  /** Default 'parallel'. */
  mode?: Mode | undefined;
  /** Default 1 (rollouts need sampling). */
  temperature?: number | undefined;
  /** Default 1. */
  topP?: number | undefined;
  /** Trajectory seeds are deriveSeed(seedBase, problem index, sample). Default 0. */
  seedBase?: number | undefined;
  /** Trajectories decoded at once. Default 1. */
  concurrency?: number | undefined;
  /** Response budget per trajectory, threads included. Default: the engine's context length. */
  maxTokens?: number | undefined;
  /** How the problem is put to the model: 'trained' (default) or 'instructed' (see buildPrompt). */
  promptStyle?: PromptStyle | undefined;
  /** The rest of the prompt format (a preset's); `promptStyle` wins over its style. */
  prompt?: Partial<PromptFormat> | undefined;
  /** The preset's name, stored in every row: resuming with another preset is refused. Default tiny. */
  preset?: string | undefined;
  /** The trajectory format the model writes (see solve's `format`; default threadweaver). */
  format?: string | undefined;
  /** The final rollouts file (JSONL). The pending file sits beside it. */
  out: string;
  /** The engine the default solve runs on (default: the embedded bundled model). Supplies the EOS id. */
  engine?: Engine | undefined;
  solve?: RolloutSolveFn | undefined;
  /** Default gradeAnswer (src/math). */
  grade?: GradeFn | undefined;
  rewardConfig?: Partial<RewardConfig> | undefined;
  /** 'mean' (P-GRPO, default) or 'std' (GRPO). */
  advantage?: AdvantageMode | undefined;
  /** Store each call's full context ids (large; they can always be rebuilt with contextIdsOf). */
  keepContextIds?: boolean | undefined;
  /** Stops scheduling; in-flight trajectories are dropped, everything stored stays. */
  signal?: AbortSignal | undefined;
  /** Called once at the start and after every stored trajectory. */
  onProgress?: ((progress: RolloutProgress) => void) | undefined;
  /** Print a progress line on this stream (default: none). */
  progress?: ProgressStream | false | undefined;
  /** Without a TTY, print the progress line every this many trajectories. Default: about 5% of the run. */
  progressEvery?: number | undefined;
}

export interface RolloutResult {
  /** Over the final rows of this run's plan. */
  summary: RolloutSummary;
  /** The final rows of this run's plan, in file order. */
  rows: RolloutRow[];
  file: string;
  /** Trajectories solved in this call. */
  ran: number;
  /** Trajectories found stored and skipped. */
  resumed: number;
  aborted: boolean;
  /** Every planned group is final. */
  complete: boolean;
  /** Things to know before training on the rows (rolloutWarnings: groups without reward spread). */
  warnings: string[];
}

/** The pending file of a rollouts file: `x.jsonl` → `x.pending.jsonl`. */
export function pendingFile(out: string): string {
  return out.replace(/(\.jsonl)?$/, '.pending.jsonl');
}

interface Job {
  problem: Problem;
  index: number;
  sample: number;
  seed: number;
  key: ResultKey;
}

function checkOptions(o: RolloutOptions): void {
  const posInt = (v: number | undefined, name: string): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new RangeError(`runRollouts: ${name} must be a whole number ≥ 1, got ${v}`);
  };
  posInt(o.group, 'group');
  posInt(o.concurrency, 'concurrency');
  posInt(o.maxTokens, 'maxTokens');
  if (o.dataset.problems.length === 0) throw new RangeError(`runRollouts: dataset ${o.dataset.name} has no problems`);
  if (path.resolve(o.out) === path.resolve(pendingFile(o.out)))
    throw new RangeError(`runRollouts: out must not be a pending file`);
}

/** Where a stored row's settings differ from this run's (empty when they match). */
function mismatches(
  row: RolloutRow,
  job: Job,
  run: { temperature: number; topP: number; settings: RolloutSettings },
): SettingDifference[] {
  // Greedy decoding reads no random numbers: the seed of a greedy trajectory is not a setting of it.
  const greedy = row.temperature < GREEDY_BELOW && run.temperature < GREEDY_BELOW;
  return differingSettings(
    { seed: row.seed, temperature: row.temperature, topP: row.topP, ...row.settings },
    { seed: job.seed, temperature: run.temperature, topP: run.topP, ...run.settings },
    greedy ? ['seed'] : [],
  );
}

/** Run (or resume) rollouts into `out`. A solve or grade error stops the run after storing what finished. */
export async function runRollouts(o: RolloutOptions): Promise<RolloutResult> {
  checkOptions(o);
  const mode = o.mode ?? 'parallel';
  const temperature = o.temperature ?? 1;
  const topP = o.topP ?? 1;
  const { style, ...prompt } = promptFormat({ ...o.prompt, ...(o.promptStyle ? { style: o.promptStyle } : {}) });
  const settings: RolloutSettings = {
    group: o.group,
    maxTokens: o.maxTokens ?? null,
    promptStyle: style,
    prompt,
    preset: o.preset ?? DEFAULT_PRESET,
    reward: rewardConfig(o.rewardConfig),
    advantage: o.advantage ?? 'mean',
  };
  const engine = o.engine ?? (o.solve ? undefined : await embeddedEngine());
  const eosId = engine?.tokenizer.eosIds[0] ?? null;
  const solveOne: RolloutSolveFn =
    o.solve ?? ((problem, { problemId: _id, sample: _sample, ...s }) => solve(problem, { ...s, engine }));
  const grade: GradeFn = o.grade ?? ((pred, gold) => gradeAnswer(pred, gold));

  // The plan: problem by problem, so groups complete (and get final rows) early.
  const jobs: Job[] = [];
  o.dataset.problems.forEach((problem, index) => {
    for (let sample = 0; sample < o.group; sample++) {
      const key = { dataset: o.dataset.name, problemId: problem.id, sample, mode };
      jobs.push({ problem, index, sample, seed: deriveSeed(o.seedBase ?? 0, index, sample), key });
    }
  });
  const planned = new Map(jobs.map((j) => [resultKey(j.key), j]));
  const groups = new Map<string, Job[]>();
  for (const j of jobs) groups.set(j.problem.id, [...(groups.get(j.problem.id) ?? []), j]);
  const groupJobs = (problemId: string): Job[] => groups.get(problemId) ?? [];

  await mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
  const pendingPath = pendingFile(o.out);
  const openRollouts = (file: string) =>
    openJsonlStore<RolloutRow, ResultKey>(file, { parse: parseRolloutLine, key: resultKey, error: RolloutFileError });
  const final = await openRollouts(o.out);
  let pending: JsonlStore<RolloutRow, ResultKey>;
  try {
    pending = await openRollouts(pendingPath);
  } catch (err) {
    await final.close();
    throw err;
  }
  const closeAll = async (): Promise<void> => {
    await Promise.all([final.close(), pending.close()]);
  };

  // Known trajectories: final rows first (they carry their advantage), then pending ones.
  const known = new Map<string, RolloutRow>();
  const finalRows = new Map<string, RolloutRow>();
  try {
    for (const [store, isFinal] of [
      [final, true],
      [pending, false],
    ] as const) {
      const file = store.path;
      for (const row of store.rows()) {
        const key = resultKey(row);
        const job = planned.get(key);
        if (!job) continue; // another plan's row: kept in the file, not used here
        const diff = mismatches(row, job, { temperature, topP, settings });
        if (diff.length) {
          throw new SettingsMismatchError(
            `${file}: ${row.problemId} sample ${row.sample} was made with ${describeDifferences(diff)}. ` +
              `Use another output file or the same settings.`,
            diff,
          );
        }
        if (isFinal && !finalRows.has(key)) finalRows.set(key, row);
        if (!known.has(key)) known.set(key, row);
      }
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const resumed = known.size;

  // Running figures.
  let done = resumed;
  let correct = 0;
  let rewardSum = 0;
  let tokens = 0;
  let critical = 0;
  const count = (r: RolloutRow): void => {
    if (r.correct) correct++;
    rewardSum += r.reward;
    tokens += r.totalTokens;
    critical += r.criticalPathTokens;
  };
  for (const r of known.values()) count(r);
  const groupsTotal = o.dataset.problems.length;
  const isFinalGroup = (problemId: string): boolean => groupJobs(problemId).every((j) => final.has(j.key));
  let groupsDone = o.dataset.problems.filter((p) => isFinalGroup(p.id)).length;

  const started = Date.now();
  const line = progressBar('rollouts', jobs.length, o.progress ?? false, {
    every: o.progressEvery ?? Math.max(1, Math.ceil(jobs.length / 20)),
    resumed,
  });
  const percent = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
  const report = (last?: RolloutProgress['last']): void => {
    const p: RolloutProgress = {
      done,
      total: jobs.length,
      resumed,
      groupsDone,
      groupsTotal,
      accuracy: done ? correct / done : null,
      meanReward: done ? rewardSum / done : null,
      elapsedMs: Date.now() - started,
      ...(last ? { last } : {}),
    };
    const notes = [
      `acc ${percent(p.accuracy)}`,
      `reward ${p.meanReward === null ? '–' : p.meanReward.toFixed(3)}`,
      `groups ${groupsDone}/${groupsTotal}`,
    ];
    if (critical > 0) notes.push(`width T/L ${(tokens / critical).toFixed(2)}×`);
    line.update(done, notes);
    o.onProgress?.(p);
  };

  /** Write the final rows of a complete group (those not yet written). */
  const finalize = async (problemId: string): Promise<void> => {
    const members = groupJobs(problemId).map((j) => known.get(resultKey(j.key)));
    if (members.some((r) => r === undefined)) return;
    const rows = members as RolloutRow[];
    const advantages = computeAdvantages(rows, { normalize: settings.advantage });
    for (const [i, row] of rows.entries()) {
      const key = resultKey(row);
      const stored = finalRows.get(key);
      if (stored) {
        // Only possible if the pending file was edited: the group's rows would disagree.
        if (stored.advantage === undefined || Math.abs(stored.advantage - advantages[i]!) > 1e-9) {
          throw new Error(
            `${o.out}: ${row.problemId} sample ${row.sample} has advantage ${stored.advantage}, its group now gives ${advantages[i]}`,
          );
        }
        continue;
      }
      const { advantage: _, ...trajectory } = row;
      const out: RolloutRow = { ...trajectory, advantage: advantages[i]! };
      await final.append(out);
      finalRows.set(key, out);
    }
    groupsDone++;
  };

  let failure: Error | undefined;
  let ran = 0;
  try {
    for (const p of o.dataset.problems) if (!isFinalGroup(p.id)) await finalize(p.id);
  } catch (err) {
    failure = err as Error;
  }
  report();

  const runJob = async (j: Job): Promise<void> => {
    const result = await solveOne(j.problem.problem, {
      mode,
      seed: j.seed,
      temperature,
      topP,
      maxTokens: o.maxTokens,
      promptStyle: settings.promptStyle,
      prompt: { style: settings.promptStyle, ...settings.prompt },
      format: o.format,
      signal: o.signal,
      problemId: j.problem.id,
      sample: j.sample,
    });
    if (o.signal?.aborted) return; // a trajectory cut short by the abort is not a rollout
    const verdict = await grade(result.answer, j.problem.answer);
    const row = rolloutRow(j, result, verdict, {
      mode,
      temperature,
      topP,
      settings,
      eosId,
      keepContextIds: o.keepContextIds === true,
      dataset: o.dataset.name,
    });
    await pending.append(row);
    known.set(resultKey(row), row);
    count(row);
    done++;
    ran++;
    const last = { problemId: row.problemId, sample: row.sample, correct: row.correct, reward: row.reward };
    await finalize(j.problem.id);
    report(last);
  };

  const todo = jobs.filter((j) => !known.has(resultKey(j.key)));
  try {
    failure = await runJobs(todo, o.concurrency ?? 1, runJob, {
      signal: o.signal,
      describe: (j) => `rollout stopped at ${j.problem.id} sample ${j.sample}`,
      failure,
    });
  } finally {
    line.finish();
    await closeAll();
  }
  if (failure) throw failure;

  const complete = jobs.every((j) => final.has(j.key));
  // Everything pending is final (this plan's rows and any other's): the pending file is redundant.
  if (pending.rows().every((r) => final.has(r))) await rm(pendingPath, { force: true });
  const rows = final.rows().filter((r) => planned.has(resultKey(r)));
  const summary = summarizeRollouts(rows);
  return {
    summary,
    warnings: rolloutWarnings(summary, { temperature }),
    rows,
    file: o.out,
    ran,
    resumed,
    aborted: o.signal?.aborted === true,
    complete,
  };
}

interface RowContext {
  dataset: string;
  mode: Mode;
  temperature: number;
  topP: number;
  settings: RolloutSettings;
  eosId: number | null;
  keepContextIds: boolean;
}

/** The stored row of one graded trajectory (no advantage yet). */
export function rolloutRow(
  job: { problem: Problem; sample: number; seed: number },
  result: SolveResult,
  verdict: GradeResult,
  ctx: RowContext,
): RolloutRow {
  const t = result.trajectory;
  const m = result.metrics;
  const { reward, ...rewardParts } = computeReward(
    {
      correct: verdict.equal,
      totalTokens: m.totalTokens,
      criticalPathTokens: m.criticalPathTokens,
      promptTokens: m.promptTokens,
      formatValid: result.formatValid,
    },
    ctx.settings.reward,
  );
  return {
    ...resultRow({
      dataset: ctx.dataset,
      problem: job.problem,
      sample: job.sample,
      mode: ctx.mode,
      seed: job.seed,
      temperature: ctx.temperature,
      topP: ctx.topP,
      answer: result.answer,
      formatValid: result.formatValid,
      metrics: m,
      verdict,
    }),
    problem: job.problem.problem,
    text: t.text,
    finishReason: t.finishReason,
    eos: t.eos,
    eosId: ctx.eosId,
    prompt: t.prompt,
    promptIds: t.promptIds,
    ids: t.ids,
    promptTokens: m.promptTokens,
    calls: t.calls.map((c) => ({
      index: c.index,
      role: c.role,
      prefixLength: c.prefixLength,
      suffixIds: c.suffixIds,
      contextLength: c.prefixLength + c.suffixIds.length,
      ...(ctx.keepContextIds ? { contextIds: contextIdsOf(t, c) } : {}),
      completionIds: c.completionIds,
      text: c.text,
      finishReason: c.finishReason,
    })),
    reward,
    rewardParts,
    settings: ctx.settings,
  };
}
