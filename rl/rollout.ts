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
import { runSampleLoop } from '../src/batch/sample-run.js';
import { engineSolver, type SampleRequest, type SampleSolver } from '../src/batch/solver.js';
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
import { promptFormat, withStyle, type PromptFormat, type PromptStyle } from '../src/orchestrator/prompt.js';
import { DEFAULT_PRESET } from '../src/solve/preset.js';
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

/** One trajectory as the rollout runner asks its solver for it (the batch runs' SampleRequest). */
export type RolloutSolveOptions = SampleRequest;

/** Produces one trajectory; the default is `solve()` on the run's engine. */
export type RolloutSolveFn = SampleSolver<SolveResult>;

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

/** What every trajectory of one run shares. */
interface RunFacts {
  mode: Mode;
  temperature: number;
  topP: number;
  settings: RolloutSettings;
}

function runFacts(o: RolloutOptions): RunFacts {
  const { style, ...prompt } = promptFormat(withStyle(o.prompt, o.promptStyle));
  return {
    mode: o.mode ?? 'parallel',
    temperature: o.temperature ?? 1,
    topP: o.topP ?? 1,
    settings: {
      group: o.group,
      maxTokens: o.maxTokens ?? null,
      promptStyle: style,
      prompt,
      preset: o.preset ?? DEFAULT_PRESET,
      reward: rewardConfig(o.rewardConfig),
      advantage: o.advantage ?? 'mean',
    },
  };
}

/** The plan: problem by problem, so groups complete (and get final rows) early. */
function planRollouts(o: RolloutOptions, mode: Mode): Job[] {
  const jobs: Job[] = [];
  o.dataset.problems.forEach((problem, index) => {
    for (let sample = 0; sample < o.group; sample++) {
      const key = { dataset: o.dataset.name, problemId: problem.id, sample, mode };
      jobs.push({ problem, index, sample, seed: deriveSeed(o.seedBase ?? 0, index, sample), key });
    }
  });
  return jobs;
}

type RolloutStore = JsonlStore<RolloutRow, ResultKey>;

const openRollouts = (file: string): Promise<RolloutStore> =>
  openJsonlStore<RolloutRow, ResultKey>(file, { parse: parseRolloutLine, key: resultKey, error: RolloutFileError });

/** The final store and the pending one beside it. */
async function openStores(out: string): Promise<{ final: RolloutStore; pending: RolloutStore }> {
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  const final = await openRollouts(out);
  try {
    return { final, pending: await openRollouts(pendingFile(out)) };
  } catch (err) {
    await final.close();
    throw err;
  }
}

/**
 * The groups of a run: which trajectories are known (stored anywhere) and which are final, the
 * running figures, and the final rows of a group once all of its trajectories are known.
 */
class Groups {
  readonly known = new Map<string, RolloutRow>();
  readonly finalRows = new Map<string, RolloutRow>();
  private readonly members = new Map<string, Job[]>();
  done = 0;
  groupsDone = 0;
  private correct = 0;
  private rewardSum = 0;
  private tokens = 0;
  private critical = 0;

  constructor(
    jobs: readonly Job[],
    private readonly final: RolloutStore,
    private readonly settings: RolloutSettings,
    private readonly out: string,
  ) {
    for (const j of jobs) this.members.set(j.problem.id, [...(this.members.get(j.problem.id) ?? []), j]);
    const planned = new Set(jobs.map((j) => resultKey(j.key)));
    for (const row of final.rows()) {
      const key = resultKey(row);
      if (planned.has(key) && !this.finalRows.has(key)) this.finalRows.set(key, row);
    }
  }

  /** A trajectory found stored or just solved. */
  add(row: RolloutRow): void {
    this.known.set(resultKey(row), row);
    this.done++;
    if (row.correct) this.correct++;
    this.rewardSum += row.reward;
    this.tokens += row.totalTokens;
    this.critical += row.criticalPathTokens;
  }

  isFinal(problemId: string): boolean {
    return (this.members.get(problemId) ?? []).every((j) => this.final.has(j.key));
  }

  /** Write the final rows of a complete group (those not yet written). */
  async finalize(problemId: string): Promise<void> {
    const rows = (this.members.get(problemId) ?? []).map((j) => this.known.get(resultKey(j.key)));
    if (rows.some((r) => r === undefined)) return;
    const group = rows as RolloutRow[];
    const advantages = computeAdvantages(group, { normalize: this.settings.advantage });
    for (const [i, row] of group.entries()) {
      const key = resultKey(row);
      const stored = this.finalRows.get(key);
      if (stored) {
        // Only possible if the pending file was edited: the group's rows would disagree.
        if (stored.advantage === undefined || Math.abs(stored.advantage - advantages[i]!) > 1e-9) {
          throw new RolloutFileError(
            `${this.out}: ${row.problemId} sample ${row.sample} has advantage ${stored.advantage}, its group now gives ${advantages[i]}`,
          );
        }
        continue;
      }
      const { advantage: _, ...trajectory } = row;
      const final: RolloutRow = { ...trajectory, advantage: advantages[i]! };
      await this.final.append(final);
      this.finalRows.set(key, final);
    }
    this.groupsDone++;
  }

  progress(total: number, resumed: number, groupsTotal: number, elapsedMs: number): RolloutProgress {
    return {
      done: this.done,
      total,
      resumed,
      groupsDone: this.groupsDone,
      groupsTotal,
      accuracy: this.done ? this.correct / this.done : null,
      meanReward: this.done ? this.rewardSum / this.done : null,
      elapsedMs,
    };
  }

  /** The progress line's notes. */
  notes(p: RolloutProgress): string[] {
    const percent = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
    const notes = [
      `acc ${percent(p.accuracy)}`,
      `reward ${p.meanReward === null ? '–' : p.meanReward.toFixed(3)}`,
      `groups ${p.groupsDone}/${p.groupsTotal}`,
    ];
    if (this.critical > 0) notes.push(`width T/L ${(this.tokens / this.critical).toFixed(2)}×`);
    return notes;
  }
}

/** Run (or resume) rollouts into `out`. A solve or grade error stops the run after storing what finished. */
export async function runRollouts(o: RolloutOptions): Promise<RolloutResult> {
  checkOptions(o);
  const run = runFacts(o);
  const engine = o.engine ?? (o.solve ? undefined : await embeddedEngine());
  const eosId = engine?.tokenizer.eosIds[0] ?? null;
  const solveOne: RolloutSolveFn = o.solve ?? engineSolver(engine);
  const grade: GradeFn = o.grade ?? ((pred, gold) => gradeAnswer(pred, gold));
  const jobs = planRollouts(o, run.mode);
  const { final, pending } = await openStores(o.out);
  const groups = new Groups(jobs, final, run.settings, o.out);
  const groupsTotal = o.dataset.problems.length;
  const bar = progressBar('rollouts', jobs.length, o.progress ?? false, {
    every: o.progressEvery ?? Math.max(1, Math.ceil(jobs.length / 20)),
  });
  const started = Date.now();
  let resumed = 0;
  const report = (last?: RolloutProgress['last']): void => {
    const p = {
      ...groups.progress(jobs.length, resumed, groupsTotal, Date.now() - started),
      ...(last ? { last } : {}),
    };
    bar.update(p.done, groups.notes(p));
    o.onProgress?.(p);
  };

  const loop = await runSampleLoop<Job, RolloutRow>({
    jobs,
    jobKey: (j) => resultKey(j.key),
    rowKey: resultKey,
    // Final rows first (they carry their advantage), then pending ones.
    stores: [final, pending],
    differences: (row, job) => mismatches(row, job, run),
    mismatch: ([first]) =>
      new SettingsMismatchError(
        `${first!.file}: ${first!.row.problemId} sample ${first!.row.sample} was made with ${describeDifferences(first!.differences)}. ` +
          `Use another output file or the same settings.`,
        first!.differences,
      ),
    close: async () => {
      await Promise.all([final.close(), pending.close()]);
    },
    start: async (stored) => {
      for (const r of stored.values()) groups.add(r);
      resumed = stored.size;
      groups.groupsDone = o.dataset.problems.filter((p) => groups.isFinal(p.id)).length;
      try {
        for (const p of o.dataset.problems) if (!groups.isFinal(p.id)) await groups.finalize(p.id);
      } finally {
        report();
      }
    },
    run: async (j) => {
      const row = await solveTrajectory(j, o, run, { solveOne, grade, eosId });
      if (!row) return false;
      await pending.append(row);
      groups.add(row);
      await groups.finalize(j.problem.id);
      report({ problemId: row.problemId, sample: row.sample, correct: row.correct, reward: row.reward });
      return true;
    },
    concurrency: o.concurrency ?? 1,
    signal: o.signal,
    describe: (j) => `rollout stopped at ${j.problem.id} sample ${j.sample}`,
    progress: bar,
  });
  if (loop.failure) throw loop.failure;

  const planned = new Set(jobs.map((j) => resultKey(j.key)));
  const complete = jobs.every((j) => final.has(j.key));
  // Everything pending is final (this plan's rows and any other's): the pending file is redundant.
  if (pending.rows().every((r) => final.has(r))) await rm(pendingFile(o.out), { force: true });
  const rows = final.rows().filter((r) => planned.has(resultKey(r)));
  const summary = summarizeRollouts(rows);
  return {
    summary,
    warnings: rolloutWarnings(summary, { temperature: run.temperature }),
    rows,
    file: o.out,
    ran: loop.ran,
    resumed: loop.resumed.size,
    aborted: loop.aborted,
    complete,
  };
}

/** One trajectory solved, graded and rewarded (no advantage yet); undefined when the abort cut it short. */
async function solveTrajectory(
  j: Job,
  o: RolloutOptions,
  run: RunFacts,
  how: { solveOne: RolloutSolveFn; grade: GradeFn; eosId: number | null },
): Promise<RolloutRow | undefined> {
  const result = await how.solveOne(j.problem.problem, {
    mode: run.mode,
    seed: j.seed,
    temperature: run.temperature,
    topP: run.topP,
    maxTokens: o.maxTokens,
    promptStyle: run.settings.promptStyle,
    prompt: { style: run.settings.promptStyle, ...run.settings.prompt },
    format: o.format,
    signal: o.signal,
    dataset: o.dataset.name,
    problemId: j.problem.id,
    sample: j.sample,
  });
  if (o.signal?.aborted) return undefined; // a trajectory cut short by the abort is not a rollout
  const verdict = await how.grade(result.answer, j.problem.answer);
  return rolloutRow(j, result, verdict, {
    mode: run.mode,
    temperature: run.temperature,
    topP: run.topP,
    settings: run.settings,
    eosId: how.eosId,
    keepContextIds: o.keepContextIds === true,
    dataset: o.dataset.name,
  });
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
