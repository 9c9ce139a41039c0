/**
 * Aggregate metrics over graded samples: per mode (accuracy, pass@k, maj@k, format, activation,
 * tokens, η, wall time) and between modes (token-latency and wall-clock speedups).
 */
import type { Mode } from './results.js';

/** The fields of a result row the metrics read. */
export interface SampleRow {
  problemId: string;
  sample: number;
  mode: Mode;
  correct: boolean;
  answer: string | null;
  formatValid: boolean;
  parallelBlocks: number;
  totalTokens: number;
  criticalPathTokens: number;
  acceleration: number;
  wallMs: number;
  family?: string;
}

export interface ModeSummary {
  /** avg@k: mean correctness over all samples (the reference's pass@1). */
  accuracy: number;
  /** Unbiased pass@k, averaged over problems (k capped at a problem's sample count). */
  passAtK: number;
  /** Majority vote over extracted answers per problem, averaged over problems. */
  majAtK: number;
  /** Share of samples whose trajectory passed the strict format check. */
  formatCorrect: number;
  /** Share of samples with at least one parallel block. */
  activationRatio: number;
  meanTotalTokens: number;
  meanCriticalPathTokens: number;
  /** Mean η = 1 − L/T. */
  meanAcceleration: number;
  wallMs: { sum: number; mean: number };
  samples: number;
  problems: number;
  k: number;
}

export interface SpeedupSummary {
  /** mean sequential total tokens / mean parallel critical-path tokens. */
  tokenLatencyRatioOfMeans: number | null;
  /** Mean over problems of (mean sequential total / mean parallel critical path) for that problem. */
  tokenLatencyMeanOfRatios: number | null;
  /** Largest per-problem ratio, each side averaged over its correct samples only. */
  maxCorrect: number | null;
  /** mean sequential wall time / mean parallel wall time per sample. */
  wallClock: number | null;
  /** The parallel trajectories' own T/L (mean total / mean critical path): NOT a speedup against sequential. */
  parallelOwnTotalOverCriticalPath: number | null;
}

export interface GroupSummary {
  parallel: ModeSummary | null;
  sequential: ModeSummary | null;
  speedup: SpeedupSummary;
}

export interface DatasetSummary extends GroupSummary {
  /** The same figures per problem family, when rows carry one. */
  families?: Record<string, GroupSummary>;
}

export interface SummaryOptions {
  /** k for pass@k and maj@k. Default: the largest number of samples any problem has in that mode. */
  k?: number;
  /** Whether two extracted answers are the same vote. Default: equal after removing whitespace. */
  sameAnswer?: (a: string, b: string) => boolean;
}

/**
 * Unbiased pass@k from n samples with c correct: 1 − C(n−c, k)/C(n, k), computed as a product
 * of ratios so that large n does not overflow.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k))) throw new RangeError('pass@k needs integers');
  if (k < 1 || k > n || c < 0 || c > n) throw new RangeError(`pass@k needs 1 <= k <= n and 0 <= c <= n (n=${n}, c=${c}, k=${k})`);
  if (n - c < k) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}

const defaultSameAnswer = (a: string, b: string): boolean => a.replace(/\s+/g, '') === b.replace(/\s+/g, '');

/**
 * Whether the majority answer is correct. Null answers do not vote; ties go to the answer seen
 * first; a group is correct when its first member was graded correct.
 */
export function majorityCorrect(
  samples: ReadonlyArray<Pick<SampleRow, 'answer' | 'correct'>>,
  sameAnswer: (a: string, b: string) => boolean = defaultSameAnswer,
): boolean {
  const groups: Array<{ answer: string; correct: boolean; votes: number }> = [];
  for (const s of samples) {
    if (s.answer === null) continue;
    const g = groups.find((x) => sameAnswer(x.answer, s.answer!));
    if (g) g.votes++;
    else groups.push({ answer: s.answer, correct: s.correct, votes: 1 });
  }
  let best: (typeof groups)[number] | undefined;
  for (const g of groups) if (!best || g.votes > best.votes) best = g;
  return best?.correct ?? false;
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const share = <T>(xs: readonly T[], pred: (x: T) => boolean): number => mean(xs.map((x) => (pred(x) ? 1 : 0)));

/** Rows grouped by problem, in first-seen order, each group in sample order. */
export function byProblem<R extends SampleRow>(rows: readonly R[]): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const list = out.get(r.problemId);
    if (list) list.push(r);
    else out.set(r.problemId, [r]);
  }
  for (const list of out.values()) list.sort((a, b) => a.sample - b.sample);
  return out;
}

/** Figures for the samples of one mode, or null when there are none. */
export function summarizeMode(rows: readonly SampleRow[], options: SummaryOptions = {}): ModeSummary | null {
  if (rows.length === 0) return null;
  const problems = byProblem(rows);
  const k = options.k ?? Math.max(...[...problems.values()].map((l) => l.length));
  const perProblem = [...problems.values()];
  const wall = rows.reduce((s, r) => s + r.wallMs, 0);
  return {
    accuracy: share(rows, (r) => r.correct),
    passAtK: mean(perProblem.map((l) => passAtK(l.length, l.filter((r) => r.correct).length, Math.min(k, l.length)))),
    majAtK: share(perProblem, (l) => majorityCorrect(l, options.sameAnswer)),
    formatCorrect: share(rows, (r) => r.formatValid),
    activationRatio: share(rows, (r) => r.parallelBlocks > 0),
    meanTotalTokens: mean(rows.map((r) => r.totalTokens)),
    meanCriticalPathTokens: mean(rows.map((r) => r.criticalPathTokens)),
    meanAcceleration: mean(rows.map((r) => r.acceleration)),
    wallMs: { sum: wall, mean: wall / rows.length },
    samples: rows.length,
    problems: problems.size,
    k,
  };
}

const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);

export interface ProblemSpeedup {
  problemId: string;
  /** mean sequential total / mean parallel critical path over all samples of the problem. */
  speedup: number | null;
  /** The same over correct samples only (null unless both modes have one). */
  correctSpeedup: number | null;
}

/** Per-problem token-latency speedups, for problems that have samples in both modes. */
export function problemSpeedups(rows: readonly SampleRow[]): ProblemSpeedup[] {
  const seq = byProblem(rows.filter((r) => r.mode === 'sequential'));
  const par = byProblem(rows.filter((r) => r.mode === 'parallel'));
  const out: ProblemSpeedup[] = [];
  for (const [problemId, p] of par) {
    const s = seq.get(problemId);
    if (!s) continue;
    const sc = s.filter((r) => r.correct);
    const pc = p.filter((r) => r.correct);
    out.push({
      problemId,
      speedup: ratio(mean(s.map((r) => r.totalTokens)), mean(p.map((r) => r.criticalPathTokens))),
      correctSpeedup:
        sc.length && pc.length
          ? ratio(mean(sc.map((r) => r.totalTokens)), mean(pc.map((r) => r.criticalPathTokens)))
          : null,
    });
  }
  return out;
}

/** What a speedup against the sequential mode compares: one side's (mean) figures. */
export interface SpeedupSides {
  sequential: { totalTokens: number; wallMs: number };
  parallel: { criticalPathTokens: number; wallMs: number };
}

/** Sequential T ÷ parallel L, and sequential wall time ÷ parallel wall time (null when a side is 0). */
export function speedupBetween(s: SpeedupSides): { tokens: number | null; wallClock: number | null } {
  return {
    tokens: ratio(s.sequential.totalTokens, s.parallel.criticalPathTokens),
    wallClock: ratio(s.sequential.wallMs, s.parallel.wallMs),
  };
}

export function summarizeSpeedup(rows: readonly SampleRow[]): SpeedupSummary {
  const seq = rows.filter((r) => r.mode === 'sequential');
  const par = rows.filter((r) => r.mode === 'parallel');
  const parT = mean(par.map((r) => r.totalTokens));
  const parL = mean(par.map((r) => r.criticalPathTokens));
  const own = par.length ? ratio(parT, parL) : null;
  if (!seq.length || !par.length) {
    return {
      tokenLatencyRatioOfMeans: null,
      tokenLatencyMeanOfRatios: null,
      maxCorrect: null,
      wallClock: null,
      parallelOwnTotalOverCriticalPath: own,
    };
  }
  const perProblem = problemSpeedups(rows);
  const ratios = perProblem.flatMap((p) => (p.speedup === null ? [] : [p.speedup]));
  const correct = perProblem.flatMap((p) => (p.correctSpeedup === null ? [] : [p.correctSpeedup]));
  const means = speedupBetween({
    sequential: { totalTokens: mean(seq.map((r) => r.totalTokens)), wallMs: mean(seq.map((r) => r.wallMs)) },
    parallel: { criticalPathTokens: parL, wallMs: mean(par.map((r) => r.wallMs)) },
  });
  return {
    tokenLatencyRatioOfMeans: means.tokens,
    tokenLatencyMeanOfRatios: ratios.length ? mean(ratios) : null,
    maxCorrect: correct.length ? Math.max(...correct) : null,
    wallClock: means.wallClock,
    parallelOwnTotalOverCriticalPath: own,
  };
}

/** Both modes and the speedups between them for one set of rows. */
export function summarizeGroup(rows: readonly SampleRow[], options: SummaryOptions = {}): GroupSummary {
  return {
    parallel: summarizeMode(rows.filter((r) => r.mode === 'parallel'), options),
    sequential: summarizeMode(rows.filter((r) => r.mode === 'sequential'), options),
    speedup: summarizeSpeedup(rows),
  };
}

/** A dataset's summary, with a per-family breakdown when any row carries a family. */
export function summarizeDataset(rows: readonly SampleRow[], options: SummaryOptions = {}): DatasetSummary {
  const summary: DatasetSummary = summarizeGroup(rows, options);
  const families = [...new Set(rows.flatMap((r) => (r.family === undefined ? [] : [r.family])))].sort();
  if (families.length) {
    summary.families = Object.fromEntries(
      families.map((f) => [f, summarizeGroup(rows.filter((r) => r.family === f), options)]),
    );
  }
  return summary;
}
