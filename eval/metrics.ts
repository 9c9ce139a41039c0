/**
 * Aggregate metrics over graded samples: per mode (accuracy, pass@k, maj@k, format, activation,
 * tokens, η, wall time) and between modes (token-latency and wall-clock speedups).
 */
import { summarizePrefill, type JoinTotals, type PhaseTotals } from './prefill.js';
import type { Mode, RowPrefill } from './results.js';
import { accuracyUncertainty, intervalOver, type BootstrapOptions, type Interval } from './uncertainty.js';

/** The fields of a result row the metrics read. */
export interface SampleRow {
  problemId: string;
  sample: number;
  mode: Mode;
  correct: boolean;
  answer: string | null;
  formatValid: boolean;
  /** The lenient format verdict, when recorded. */
  formatValidLenient?: boolean;
  parallelBlocks: number;
  totalTokens: number;
  criticalPathTokens: number;
  acceleration: number;
  wallMs: number;
  /** Prompt tokens and the prompt's prefill time, when recorded. */
  promptTokens?: number;
  prefillMs?: number;
  /** The sample's prefill ledger, when recorded. */
  prefill?: RowPrefill;
  family?: string;
}

/** Per-mode figures. Fields marked optional are absent in summaries written by earlier versions. */
export interface ModeSummary {
  /** avg@k: mean correctness over all samples (the reference's pass@1). */
  accuracy: number;
  /** Standard error of `accuracy` over problems (sample sd of per-problem accuracy / √problems). */
  accuracyStderr?: number;
  /** 95% percentile bootstrap interval of `accuracy`, resampling problems. */
  accuracyCI95?: Interval;
  /**
   * Unbiased pass@k at k = K, averaged over problems (k capped at a problem's sample count).
   * @deprecated Superseded by `passAt[K]` (the same figure); kept for one release.
   */
  passAtK: number;
  /**
   * Majority vote over all extracted answers per problem (ties: the answer seen first), averaged over problems.
   * @deprecated Superseded by `majAt[K]` (which splits ties evenly); kept for one release.
   */
  majAtK: number;
  /** Unbiased pass@k for k = 1, 2, 4, … below K and K itself, keyed by k (`passAt["1"]` is `accuracy`). */
  passAt?: Record<string, number>;
  /** Expected majority-vote correctness of k samples drawn from a problem's n, same keys as `passAt`. */
  majAt?: Record<string, number>;
  /** G-Pass@k_τ (Liu et al. 2024), keyed by k (as `passAt`), then τ (`"0.5"`, `"0.75"`, `"1.0"`). */
  gPassAt?: Record<string, Record<string, number>>;
  /** Share of samples whose trajectory passed the strict format check (every rule of the validator). */
  formatCorrect: number;
  /**
   * Share of samples whose fork/join structure is sound (lenient check, src/format/lenient.ts);
   * null when a sample was stored without the lenient verdict (rescore computes it from the text).
   */
  formatCorrectLenient?: number | null;
  /** Share of samples with at least one parallel block. */
  activationRatio: number;
  meanTotalTokens: number;
  meanCriticalPathTokens: number;
  /** Mean η = 1 − L/T. */
  meanAcceleration: number;
  wallMs: { sum: number; mean: number };
  /** Mean prompt tokens per sample (null when not recorded). */
  meanPromptTokens?: number | null;
  /** Mean prefill time of the prompt per sample (null unless every sample has it). */
  prefillMs?: { mean: number } | null;
  /** Mean wall time per sample after the prompt's prefill (null unless every sample has a prefill time). */
  decodeWallMs?: { mean: number } | null;
  /**
   * Prompt tokens sent with every call, summed over the samples, by phase: sequential calls,
   * thread starts, continuations after a join (null unless every sample recorded them).
   */
  promptTokens?: PhaseTotals<number> | null;
  /** Of those, what the servers' prefix caches served; a phase is null when a server did not report it. */
  cachedPromptTokens?: PhaseTotals<number | null> | null;
  /** The continuation after each block's join (block 0: every sample's first), summed over the samples. */
  joinPrefill?: JoinTotals[] | null;
  samples: number;
  problems: number;
  k: number;
}

/**
 * How much faster parallel mode is than sequential on the same problems, by tokens and by wall
 * time, with bootstrap intervals.
 */
export interface SpeedupSummary {
  /** mean sequential total tokens / mean parallel critical-path tokens. */
  tokenLatencyRatioOfMeans: number | null;
  /** Mean over problems of (mean sequential total / mean parallel critical path) for that problem. */
  tokenLatencyMeanOfRatios: number | null;
  /** Largest per-problem ratio, each side averaged over its correct samples only. */
  maxCorrect: number | null;
  /** mean sequential wall time / mean parallel wall time per sample. */
  wallClock: number | null;
  /** The same with each sample's prompt prefill time taken out (null unless every sample has one). */
  decodeWallClock?: number | null;
  /** The parallel trajectories' own T/L (mean total / mean critical path): NOT a speedup against sequential. */
  parallelOwnTotalOverCriticalPath: number | null;
  /**
   * 95% paired bootstrap intervals over the problems run in both modes (both modes of a problem
   * resampled together); null where the figure is.
   */
  ci95?: {
    tokenLatencyRatioOfMeans: Interval | null;
    tokenLatencyMeanOfRatios: Interval | null;
    wallClock: Interval | null;
    decodeWallClock: Interval | null;
  };
}

export interface GroupSummary {
  parallel: ModeSummary | null;
  sequential: ModeSummary | null;
  speedup: SpeedupSummary;
}

/**
 * One dataset's figures in a run summary (per mode, and the speedups), and the same per problem
 * family when rows carry one.
 */
export interface DatasetSummary extends GroupSummary {
  /** The same figures per problem family, when rows carry one. */
  families?: Record<string, GroupSummary>;
}

export interface SummaryOptions {
  /** k for pass@k and maj@k. Default: the largest number of samples any problem has in that mode. */
  k?: number;
  /** Whether two extracted answers are the same vote. Default: equal after removing whitespace. */
  sameAnswer?: ((a: string, b: string) => boolean) | undefined;
  /** Resamples and seed of the bootstrap intervals. */
  bootstrap?: BootstrapOptions | undefined;
}

/**
 * Unbiased pass@k from n samples with c correct: 1 − C(n−c, k)/C(n, k), computed as a product
 * of ratios so that large n does not overflow.
 */
export function passAtK(n: number, c: number, k: number): number {
  checkCounts('pass@k', n, c, k);
  if (n - c < k) return 1;
  let miss = 1;
  for (let i = n - c + 1; i <= n; i++) miss *= 1 - k / i;
  return 1 - miss;
}

function checkCounts(what: string, n: number, c: number, k: number): void {
  if (!(Number.isInteger(n) && Number.isInteger(c) && Number.isInteger(k)))
    throw new RangeError(`${what} needs integers`);
  if (k < 1 || k > n || c < 0 || c > n)
    throw new RangeError(`${what} needs 1 <= k <= n and 0 <= c <= n (n=${n}, c=${c}, k=${k})`);
}

/** The k at which the estimators are reported: 1, 2, 4, … below K, and K itself. */
export function estimatorKs(K: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k < K; k *= 2) ks.push(k);
  if (K >= 1) ks.push(K);
  return ks;
}

/** The thresholds τ of G-Pass@k_τ reported per mode. */
export const G_PASS_TAUS = [0.5, 0.75, 1] as const;

/** τ as a key of `gPassAt[k]`: `"0.5"`, `"0.75"`, `"1.0"` (never an integer-like key, so the order holds in JSON). */
export const tauKey = (tau: number): string => (Number.isInteger(tau) ? tau.toFixed(1) : String(tau));

/**
 * The hypergeometric distribution of correct samples among k drawn without replacement from n
 * with c correct: entry j is C(c, j)·C(n−c, k−j)/C(n, k). Built by ratios of neighbouring terms
 * outward from the mode (the largest term, set to 1) and normalized by the sum, so no binomial
 * is ever formed and large n neither overflows nor loses the small terms' relative precision.
 */
export function hypergeometric(n: number, c: number, k: number): number[] {
  checkCounts('hypergeometric', n, c, k);
  const lo = Math.max(0, k - (n - c));
  const hi = Math.min(k, c);
  const mode = Math.min(hi, Math.max(lo, Math.floor(((k + 1) * (c + 1)) / (n + 2))));
  const w = new Array<number>(k + 1).fill(0);
  w[mode] = 1;
  for (let j = mode; j < hi; j++) w[j + 1] = (w[j]! * (c - j) * (k - j)) / ((j + 1) * (n - c - k + j + 1));
  for (let j = mode; j > lo; j--) w[j - 1] = (w[j]! * j * (n - c - k + j)) / ((c - j + 1) * (k - j + 1));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

/**
 * G-Pass@k_τ (Liu et al. 2024, "Are Your LLMs Capable of Stable Reasoning?"): the probability that
 * at least ⌈τ·k⌉ of k samples drawn from n (c correct) are correct,
 * Σ_{j=⌈τk⌉}^{k} C(c, j)·C(n−c, k−j)/C(n, k). τ → 0 is pass@k; τ = 1 asks all k to be right.
 */
export function gPassAtK(n: number, c: number, k: number, tau: number): number {
  if (!(tau > 0 && tau <= 1)) throw new RangeError(`G-Pass@k needs 0 < τ <= 1, got ${tau}`);
  const need = Math.ceil(tau * k - 1e-9);
  return hypergeometric(n, c, k)
    .slice(need)
    .reduce((a, b) => a + b, 0);
}

/** One answer's votes among a problem's samples: how many gave it, and whether it is correct. */
export interface AnswerGroup {
  size: number;
  correct: boolean;
}

const binomialRow = (m: number, upTo: number): bigint[] => {
  const row = [1n];
  for (let j = 1; j <= Math.min(m, upTo); j++) row.push((row[j - 1]! * BigInt(m - j + 1)) / BigInt(j));
  return row;
};

/**
 * maj@k from n samples: the expected correctness of a majority vote over k samples drawn without
 * replacement from the n, over all C(n, k) draws. Samples without an answer (`unanswered`) do not
 * vote; a draw with no vote counts 0; a tie between t answers counts the share of correct ones
 * among them (a tie broken at random). Counted exactly (big integers, one pass over the answers
 * per possible winning count), so at k = 1 it is the accuracy and at k = n the vote over all.
 */
export function majorityAtK(groups: readonly AnswerGroup[], unanswered: number, k: number): number {
  const n = groups.reduce((s, g) => s + g.size, 0) + unanswered;
  checkCounts('maj@k', n, 0, k);
  let total = 1n;
  for (let j = 1; j <= k; j++) total = (total * BigInt(n - j + 1)) / BigInt(j);
  const rows = groups.map((g) => binomialRow(g.size, k));
  const none = binomialRow(unanswered, k);
  let expected = 0;
  const largest = Math.max(0, ...groups.map((g) => g.size));
  // Draws whose winning count is x: every answer has at most x votes, a correct and b wrong ones exactly x.
  for (let x = 1; x <= Math.min(k, largest); x++) {
    let states = new Map<string, bigint>();
    none.forEach((ways, j) => states.set(`${j},0,0`, ways));
    groups.forEach((g, gi) => {
      const next = new Map<string, bigint>();
      for (const [key, ways] of states) {
        const [s, a, b] = key.split(',').map(Number) as [number, number, number];
        for (let j = 0; j <= Math.min(g.size, x, k - s); j++) {
          const top = j === x;
          const to = `${s + j},${a + (top && g.correct ? 1 : 0)},${b + (top && !g.correct ? 1 : 0)}`;
          next.set(to, (next.get(to) ?? 0n) + ways * rows[gi]![j]!);
        }
      }
      states = next;
    });
    for (const [key, ways] of states) {
      const [s, a, b] = key.split(',').map(Number) as [number, number, number];
      if (s !== k || a === 0) continue;
      expected += (Number((ways << 64n) / total) / 2 ** 64) * (a / (a + b));
    }
  }
  return expected;
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

/** A problem's samples as answer groups (null answers apart), grouped as majorityCorrect groups them. */
export function answerGroups(
  samples: ReadonlyArray<Pick<SampleRow, 'answer' | 'correct'>>,
  sameAnswer: (a: string, b: string) => boolean = defaultSameAnswer,
): { groups: AnswerGroup[]; unanswered: number } {
  const groups: Array<AnswerGroup & { answer: string }> = [];
  let unanswered = 0;
  for (const s of samples) {
    if (s.answer === null) {
      unanswered++;
      continue;
    }
    const g = groups.find((x) => sameAnswer(x.answer, s.answer!));
    if (g) g.size++;
    else groups.push({ answer: s.answer, correct: s.correct, size: 1 });
  }
  return { groups: groups.map(({ size, correct }) => ({ size, correct })), unanswered };
}

/** passAt, majAt and gPassAt of one mode's problems, each k capped at a problem's own sample count. */
function estimators(
  perProblem: ReadonlyArray<readonly SampleRow[]>,
  K: number,
  sameAnswer: ((a: string, b: string) => boolean) | undefined,
): Pick<ModeSummary, 'passAt' | 'majAt' | 'gPassAt'> {
  const passAt: Record<string, number> = {};
  const majAt: Record<string, number> = {};
  const gPassAt: Record<string, Record<string, number>> = {};
  const counted = perProblem.map((l) => ({
    n: l.length,
    c: l.filter((r) => r.correct).length,
    votes: answerGroups(l, sameAnswer),
  }));
  for (const k of estimatorKs(K)) {
    const at = (p: (typeof counted)[number]) => Math.min(k, p.n);
    passAt[k] = mean(counted.map((p) => passAtK(p.n, p.c, at(p))));
    majAt[k] = mean(counted.map((p) => majorityAtK(p.votes.groups, p.votes.unanswered, at(p))));
    gPassAt[k] = Object.fromEntries(
      G_PASS_TAUS.map((tau) => [tauKey(tau), mean(counted.map((p) => gPassAtK(p.n, p.c, at(p), tau)))]),
    );
  }
  return { passAt, majAt, gPassAt };
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
  const uncertainty = accuracyUncertainty(
    perProblem.map((l) => ({ samples: l.length, correct: l.filter((r) => r.correct).length })),
    options.bootstrap,
  )!;
  const prefill = allPrefill(rows);
  const ledger = summarizePrefill(rows);
  return {
    accuracy: share(rows, (r) => r.correct),
    accuracyStderr: uncertainty.stderr,
    accuracyCI95: uncertainty.ci95,
    passAtK: mean(perProblem.map((l) => passAtK(l.length, l.filter((r) => r.correct).length, Math.min(k, l.length)))),
    majAtK: share(perProblem, (l) => majorityCorrect(l, options.sameAnswer)),
    ...estimators(perProblem, k, options.sameAnswer),
    formatCorrect: share(rows, (r) => r.formatValid),
    formatCorrectLenient: rows.every((r) => r.formatValidLenient !== undefined)
      ? share(rows, (r) => r.formatValidLenient === true)
      : null,
    activationRatio: share(rows, (r) => r.parallelBlocks > 0),
    meanTotalTokens: mean(rows.map((r) => r.totalTokens)),
    meanCriticalPathTokens: mean(rows.map((r) => r.criticalPathTokens)),
    meanAcceleration: mean(rows.map((r) => r.acceleration)),
    wallMs: { sum: wall, mean: wall / rows.length },
    meanPromptTokens: rows.every((r) => r.promptTokens !== undefined) ? mean(rows.map((r) => r.promptTokens!)) : null,
    prefillMs: prefill ? { mean: mean(prefill) } : null,
    decodeWallMs: prefill ? { mean: mean(rows.map((r, i) => r.wallMs - prefill[i]!)) } : null,
    promptTokens: ledger?.promptTokens ?? null,
    cachedPromptTokens: ledger?.cachedPromptTokens ?? null,
    joinPrefill: ledger?.joins ?? null,
    samples: rows.length,
    problems: problems.size,
    k,
  };
}

const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);

/** Every row's prefill time, or null unless all rows have one. */
function allPrefill(rows: readonly SampleRow[]): number[] | null {
  return rows.length && rows.every((r) => r.prefillMs !== undefined) ? rows.map((r) => r.prefillMs!) : null;
}

/** One problem's sums in both modes: what a paired resample of problems adds up. */
interface PairedProblem {
  seq: { n: number; tokens: number; wall: number; decode: number | null };
  par: { n: number; critical: number; wall: number; decode: number | null };
}

function pairedProblems(rows: readonly SampleRow[]): PairedProblem[] {
  const seq = byProblem(rows.filter((r) => r.mode === 'sequential'));
  const par = byProblem(rows.filter((r) => r.mode === 'parallel'));
  const decode = (l: readonly SampleRow[]): number | null => {
    const p = allPrefill(l);
    return p ? l.reduce((s, r, i) => s + r.wallMs - p[i]!, 0) : null;
  };
  const sum = (l: readonly SampleRow[], f: (r: SampleRow) => number): number => l.reduce((s, r) => s + f(r), 0);
  const out: PairedProblem[] = [];
  for (const [id, p] of par) {
    const s = seq.get(id);
    if (!s) continue;
    out.push({
      seq: { n: s.length, tokens: sum(s, (r) => r.totalTokens), wall: sum(s, (r) => r.wallMs), decode: decode(s) },
      par: {
        n: p.length,
        critical: sum(p, (r) => r.criticalPathTokens),
        wall: sum(p, (r) => r.wallMs),
        decode: decode(p),
      },
    });
  }
  return out;
}

/** The between-mode speedups of a set of paired problems (ratios of pooled means). */
function pairedSpeedups(ps: readonly PairedProblem[]) {
  let sn = 0,
    st = 0,
    sw = 0,
    sd = 0,
    pn = 0,
    pl = 0,
    pw = 0,
    pd = 0;
  let decodeKnown = true;
  for (const p of ps) {
    sn += p.seq.n;
    st += p.seq.tokens;
    sw += p.seq.wall;
    pn += p.par.n;
    pl += p.par.critical;
    pw += p.par.wall;
    if (p.seq.decode === null || p.par.decode === null) decodeKnown = false;
    else {
      sd += p.seq.decode;
      pd += p.par.decode;
    }
  }
  if (!sn || !pn) return null;
  return {
    tokens: ratio(st / sn, pl / pn),
    wallClock: ratio(sw / sn, pw / pn),
    decodeWallClock: decodeKnown ? ratio(sd / sn, pd / pn) : null,
    meanOfRatios: mean(
      ps.flatMap((p) => {
        const r = ratio(p.seq.tokens / p.seq.n, p.par.critical / p.par.n);
        return r === null ? [] : [r];
      }),
    ),
  };
}

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

export function summarizeSpeedup(
  rows: readonly SampleRow[],
  options: Pick<SummaryOptions, 'bootstrap'> = {},
): SpeedupSummary {
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
      decodeWallClock: null,
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
    decodeWallClock: decodeWallClock(seq, par),
    parallelOwnTotalOverCriticalPath: own,
    ci95: speedupIntervals(pairedProblems(rows), options.bootstrap),
  };
}

function decodeWallClock(seq: readonly SampleRow[], par: readonly SampleRow[]): number | null {
  const s = allPrefill(seq);
  const p = allPrefill(par);
  if (!s || !p) return null;
  return ratio(mean(seq.map((r, i) => r.wallMs - s[i]!)), mean(par.map((r, i) => r.wallMs - p[i]!)));
}

function speedupIntervals(
  ps: readonly PairedProblem[],
  bootstrap: BootstrapOptions | undefined,
): NonNullable<SpeedupSummary['ci95']> {
  const of = (pick: (s: NonNullable<ReturnType<typeof pairedSpeedups>>) => number | null) =>
    intervalOver(
      ps,
      (sample) => {
        const s = pairedSpeedups(sample);
        return s ? pick(s) : null;
      },
      bootstrap,
    );
  return {
    tokenLatencyRatioOfMeans: of((s) => s.tokens),
    tokenLatencyMeanOfRatios: of((s) => s.meanOfRatios),
    wallClock: of((s) => s.wallClock),
    decodeWallClock: of((s) => s.decodeWallClock),
  };
}

/** Both modes and the speedups between them for one set of rows. */
export function summarizeGroup(rows: readonly SampleRow[], options: SummaryOptions = {}): GroupSummary {
  return {
    parallel: summarizeMode(
      rows.filter((r) => r.mode === 'parallel'),
      options,
    ),
    sequential: summarizeMode(
      rows.filter((r) => r.mode === 'sequential'),
      options,
    ),
    speedup: summarizeSpeedup(rows, options),
  };
}

/** A dataset's summary, with a per-family breakdown when any row carries a family. */
export function summarizeDataset(rows: readonly SampleRow[], options: SummaryOptions = {}): DatasetSummary {
  const summary: DatasetSummary = summarizeGroup(rows, options);
  const families = [...new Set(rows.flatMap((r) => (r.family === undefined ? [] : [r.family])))].sort();
  if (families.length) {
    summary.families = Object.fromEntries(
      families.map((f) => [
        f,
        summarizeGroup(
          rows.filter((r) => r.family === f),
          options,
        ),
      ]),
    );
  }
  return summary;
}
