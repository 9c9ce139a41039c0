import { describe, expect, it } from 'vitest';
import {
  majorityCorrect,
  passAtK,
  problemSpeedups,
  summarizeDataset,
  summarizeGroup,
  summarizeMode,
  summarizeSpeedup,
  type SampleRow,
} from '../../eval/metrics.js';
import { summarizeRun } from '../../eval/summary.js';
import {
  accuracyUncertainty,
  bootstrap,
  percentileInterval,
  pooledAccuracy,
  quantile,
  standardError,
  type ProblemScore,
} from '../../eval/uncertainty.js';

/** C(n, k) exactly. */
function binom(n: number, k: number): bigint {
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

describe('pass@k', () => {
  it('matches hand values', () => {
    expect(passAtK(5, 2, 2)).toBeCloseTo(1 - 3 / 10, 12);
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12);
    expect(passAtK(4, 0, 2)).toBe(0);
    expect(passAtK(4, 3, 2)).toBe(1);
    expect(passAtK(4, 4, 4)).toBe(1);
    expect(passAtK(3, 1, 3)).toBe(1);
    expect(passAtK(200, 1, 100)).toBeCloseTo(0.5, 12);
    expect(passAtK(8, 2, 3)).toBeCloseTo(1 - 20 / 56, 12);
  });

  it('stays exact where the binomials overflow doubles', () => {
    const n = 1200;
    const c = 7;
    const k = 600;
    // 1 - C(n-c, k)/C(n, k), computed exactly with BigInt and scaled to 15 digits.
    const scale = 10n ** 15n;
    const exact = 1 - Number((binom(n - c, k) * scale) / binom(n, k)) / 1e15;
    expect(Number.isFinite(Number(binom(n, k)))).toBe(false);
    expect(passAtK(n, c, k)).toBeCloseTo(exact, 12);
  });

  it('rejects impossible arguments', () => {
    expect(() => passAtK(3, 1, 4)).toThrow(RangeError);
    expect(() => passAtK(3, 4, 1)).toThrow(RangeError);
    expect(() => passAtK(3, 1, 0)).toThrow(RangeError);
    expect(() => passAtK(3, 1.5, 1)).toThrow(RangeError);
  });
});

describe('majority vote', () => {
  it('ignores null answers, breaks ties by first seen, and honours sameAnswer', () => {
    const s = (answer: string | null, correct: boolean) => ({ answer, correct });
    expect(majorityCorrect([s('5', true), s('6', false), s('6', false)])).toBe(false);
    expect(majorityCorrect([s('5', true), s('6', false)])).toBe(true);
    expect(majorityCorrect([s(null, false), s(null, false), s('5', true)])).toBe(true);
    expect(majorityCorrect([s(null, false)])).toBe(false);
    expect(majorityCorrect([s('1 / 2', true), s('1/2', true), s('3', false)])).toBe(true);
    const value = (x: string) =>
      x
        .split('/')
        .map(Number)
        .reduce((p, q) => p / q);
    const same = (a: string, b: string) => value(a) === value(b);
    expect(majorityCorrect([s('3', false), s('1/2', true), s('0.5', true)], same)).toBe(true);
    expect(majorityCorrect([s('3', false), s('1/2', true), s('0.5', true)])).toBe(false);
  });
});

function r(problemId: string, sample: number, mode: SampleRow['mode'], f: Partial<SampleRow>): SampleRow {
  return {
    problemId,
    sample,
    mode,
    correct: false,
    answer: null,
    formatValid: true,
    parallelBlocks: 0,
    totalTokens: 0,
    criticalPathTokens: 0,
    acceleration: 0,
    wallMs: 0,
    ...f,
  };
}

// Two problems, k = 2, both modes.
const rows: SampleRow[] = [
  r('A', 0, 'parallel', {
    correct: true,
    answer: '5',
    parallelBlocks: 1,
    totalTokens: 100,
    criticalPathTokens: 60,
    acceleration: 0.4,
    wallMs: 10,
  }),
  r('A', 1, 'parallel', { answer: '6', formatValid: false, totalTokens: 80, criticalPathTokens: 80, wallMs: 20 }),
  r('A', 0, 'sequential', { correct: true, answer: '5', totalTokens: 120, criticalPathTokens: 120, wallMs: 30 }),
  r('A', 1, 'sequential', { correct: true, answer: '5', totalTokens: 100, criticalPathTokens: 100, wallMs: 30 }),
  r('B', 0, 'parallel', {
    parallelBlocks: 2,
    totalTokens: 200,
    criticalPathTokens: 100,
    acceleration: 0.5,
    wallMs: 40,
  }),
  r('B', 1, 'parallel', {
    answer: '7',
    parallelBlocks: 1,
    totalTokens: 200,
    criticalPathTokens: 140,
    acceleration: 0.3,
    wallMs: 50,
  }),
  r('B', 0, 'sequential', { correct: true, answer: '9', totalTokens: 300, criticalPathTokens: 300, wallMs: 60 }),
  r('B', 1, 'sequential', { answer: '8', totalTokens: 260, criticalPathTokens: 260, wallMs: 80 }),
];

describe('summaries on hand-built rows', () => {
  const g = summarizeGroup(rows);

  it('parallel mode', () => {
    const p = g.parallel!;
    expect(p.accuracy).toBeCloseTo(0.25);
    expect(p.passAtK).toBeCloseTo(0.5);
    expect(p.majAtK).toBeCloseTo(0.5);
    expect(p.formatCorrect).toBeCloseTo(0.75);
    expect(p.activationRatio).toBeCloseTo(0.75);
    expect(p.meanTotalTokens).toBeCloseTo(145);
    expect(p.meanCriticalPathTokens).toBeCloseTo(95);
    expect(p.meanAcceleration).toBeCloseTo(0.3);
    expect(p.wallMs).toEqual({ sum: 120, mean: 30 });
    expect([p.samples, p.problems, p.k]).toEqual([4, 2, 2]);
  });

  it('sequential mode', () => {
    const s = g.sequential!;
    expect(s.accuracy).toBeCloseTo(0.75);
    expect(s.passAtK).toBe(1);
    expect(s.majAtK).toBe(1);
    expect(s.activationRatio).toBe(0);
    expect(s.meanTotalTokens).toBeCloseTo(195);
    expect(s.wallMs).toEqual({ sum: 200, mean: 50 });
  });

  it('speedups', () => {
    expect(g.speedup.tokenLatencyRatioOfMeans).toBeCloseTo(195 / 95, 10);
    expect(g.speedup.tokenLatencyMeanOfRatios).toBeCloseTo((110 / 70 + 280 / 120) / 2, 10);
    expect(g.speedup.maxCorrect).toBeCloseTo(110 / 60, 10);
    expect(g.speedup.wallClock).toBeCloseTo(50 / 30, 10);
    expect(g.speedup.parallelOwnTotalOverCriticalPath).toBeCloseTo(145 / 95, 10);
    expect(problemSpeedups(rows)).toEqual([
      { problemId: 'A', speedup: 110 / 70, correctSpeedup: 110 / 60 },
      { problemId: 'B', speedup: 280 / 120, correctSpeedup: null },
    ]);
  });

  it('pass@k uses the given k (k=1 equals per-problem accuracy)', () => {
    const one = summarizeGroup(rows, { k: 1 });
    expect(one.parallel!.passAtK).toBeCloseTo(0.25);
    expect(one.sequential!.passAtK).toBeCloseTo(0.75);
    // A problem with fewer samples than k is scored with k capped at its sample count.
    const partial = summarizeGroup(
      rows.filter((x) => !(x.problemId === 'B' && x.sample === 1)),
      { k: 2 },
    );
    expect(partial.sequential!.passAtK).toBe(1);
  });

  it('a missing mode gives nulls, not zeros', () => {
    const onlyPar = summarizeGroup(rows.filter((x) => x.mode === 'parallel'));
    expect(onlyPar.sequential).toBeNull();
    expect(onlyPar.speedup).toEqual({
      tokenLatencyRatioOfMeans: null,
      tokenLatencyMeanOfRatios: null,
      maxCorrect: null,
      wallClock: null,
      decodeWallClock: null,
      parallelOwnTotalOverCriticalPath: 145 / 95,
    });
    const onlySeq = summarizeGroup(rows.filter((x) => x.mode === 'sequential'));
    expect(onlySeq.parallel).toBeNull();
    expect(onlySeq.speedup.parallelOwnTotalOverCriticalPath).toBeNull();
  });

  it('breaks down by family when rows carry one', () => {
    const withFamily = rows.map((x) => ({ ...x, family: x.problemId === 'A' ? 'products' : 'poly' }));
    const d = summarizeDataset(withFamily);
    expect(Object.keys(d.families!)).toEqual(['poly', 'products']);
    expect(d.families!.products!.parallel!.accuracy).toBeCloseTo(0.5);
    expect(d.families!.poly!.speedup.tokenLatencyMeanOfRatios).toBeCloseTo(280 / 120, 10);
    expect(summarizeDataset(rows).families).toBeUndefined();
  });

  it('summarizeRun keeps dataset order and skips datasets without rows', () => {
    const tagged = [
      ...rows.map((x) => ({ ...x, dataset: 'two' })),
      ...rows.slice(0, 2).map((x) => ({ ...x, dataset: 'one' })),
    ];
    const s = summarizeRun(
      tagged,
      { k: 2, modes: ['parallel', 'sequential'], temperature: 0.6, topP: 0.95, seedBase: 1 },
      ['one', 'empty', 'two'],
    );
    expect(Object.keys(s.datasets)).toEqual(['one', 'two']);
    expect(s.datasets.one!.sequential).toBeNull();
    expect(s.datasets.two!.parallel!.k).toBe(2);
    expect(s.version).toBe(1);
  });
});

describe('uncertainty: standard errors and bootstrap intervals with known answers', () => {
  const binary = (n: number, correct: number): ProblemScore[] =>
    Array.from({ length: n }, (_, i) => ({ samples: 1, correct: i < correct ? 1 : 0 }));

  it('the standard error is the sample sd over √n (closed form for 0/1 scores: √(p(1−p)/(n−1)))', () => {
    expect(standardError([1, 0])).toBeCloseTo(0.5, 12);
    expect(standardError([1])).toBe(0);
    const p = 0.3;
    const u = accuracyUncertainty(binary(400, 120))!;
    expect(u.stderr).toBeCloseTo(Math.sqrt((p * (1 - p)) / 399), 12);
  });

  it('the bootstrap of a binomial mean matches the binomial standard error and the normal interval', () => {
    const n = 400;
    const p = 0.3;
    const se = Math.sqrt((p * (1 - p)) / n);
    const dist = bootstrap(binary(n, 120), pooledAccuracy, { resamples: 4000, seed: 7 });
    const m = dist.reduce((a, b) => a + b, 0) / dist.length;
    const sd = Math.sqrt(dist.reduce((s, v) => s + (v - m) ** 2, 0) / (dist.length - 1));
    expect(m).toBeCloseTo(p, 2);
    expect(Math.abs(sd - se) / se).toBeLessThan(0.05);
    const [lo, hi] = accuracyUncertainty(binary(n, 120), { resamples: 4000, seed: 7 })!.ci95;
    expect(lo).toBeCloseTo(p - 1.96 * se, 2);
    expect(hi).toBeCloseTo(p + 1.96 * se, 2);
  });

  it('a hand-computed case: two problems, one right, one wrong', () => {
    // Resamples of two problems have mean 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4.
    const dist = bootstrap(binary(2, 1), pooledAccuracy, { resamples: 8000, seed: 3 });
    const share = (v: number) => dist.filter((x) => x === v).length / dist.length;
    expect(share(0)).toBeCloseTo(0.25, 1);
    expect(share(0.5)).toBeCloseTo(0.5, 1);
    expect(share(1)).toBeCloseTo(0.25, 1);
    expect(percentileInterval(dist)).toEqual([0, 1]);
    // All right, or one problem: no spread at all.
    expect(accuracyUncertainty(binary(5, 5))).toEqual({ stderr: 0, ci95: [1, 1] });
    expect(accuracyUncertainty([{ samples: 4, correct: 3 }])).toEqual({ stderr: 0, ci95: [0.75, 0.75] });
  });

  it('quantiles interpolate between order statistics', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([0, 10], 0.025)).toBeCloseTo(0.25, 12);
  });

  it('resampling is seeded: same rows and seed, same interval; another seed, another', () => {
    const items = binary(50, 20);
    const a = accuracyUncertainty(items, { resamples: 500, seed: 1 })!.ci95;
    expect(accuracyUncertainty(items, { resamples: 500, seed: 1 })!.ci95).toEqual(a);
    // Intervals over 50 items move in steps of 0.02, so two seeds can land on the same one; five do not.
    const bySeed = [2, 3, 4, 5, 6].map((seed) =>
      JSON.stringify(accuracyUncertainty(items, { resamples: 500, seed })!.ci95),
    );
    expect(new Set([JSON.stringify(a), ...bySeed]).size).toBeGreaterThan(1);
  });

  it('speedup intervals are paired over problems: a constant ratio has a zero-width interval', () => {
    const paired: SampleRow[] = [];
    for (let i = 0; i < 20; i++) {
      const L = 50 + 10 * i;
      paired.push(
        r(`p${i}`, 0, 'parallel', {
          correct: true,
          totalTokens: 3 * L,
          criticalPathTokens: L,
          wallMs: L,
          prefillMs: 5,
        }),
      );
      paired.push(
        r(`p${i}`, 0, 'sequential', {
          correct: true,
          totalTokens: 2 * L,
          criticalPathTokens: 2 * L,
          wallMs: 2 * L,
          prefillMs: 5,
        }),
      );
    }
    const s = summarizeSpeedup(paired);
    expect(s.tokenLatencyRatioOfMeans).toBeCloseTo(2, 12);
    expect(s.ci95!.tokenLatencyRatioOfMeans![0]).toBeCloseTo(2, 12);
    expect(s.ci95!.tokenLatencyRatioOfMeans![1]).toBeCloseTo(2, 12);
    expect(s.ci95!.tokenLatencyMeanOfRatios).toEqual([2, 2]);
    expect(s.ci95!.wallClock![0]).toBeCloseTo(2, 12);
    // Decode-only: (2L − 5) / (L − 5) per sample, pooled.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const Ls = Array.from({ length: 20 }, (_, i) => 50 + 10 * i);
    expect(s.decodeWallClock).toBeCloseTo(mean(Ls.map((L) => 2 * L - 5)) / mean(Ls.map((L) => L - 5)), 12);
    // A varying ratio: the interval brackets the estimate.
    const noisy = paired.map((x, i) =>
      x.mode === 'sequential' && i % 4 === 1 ? { ...x, totalTokens: x.totalTokens * 1.5 } : x,
    );
    const n = summarizeSpeedup(noisy);
    const [lo, hi] = n.ci95!.tokenLatencyRatioOfMeans!;
    expect(lo).toBeLessThan(n.tokenLatencyRatioOfMeans!);
    expect(hi).toBeGreaterThan(n.tokenLatencyRatioOfMeans!);
    expect(lo).toBeGreaterThanOrEqual(2);
    expect(hi).toBeLessThanOrEqual(3);
  });

  it('mode summaries carry accuracy stderr and interval, prompt tokens, prefill and decode-only wall time', () => {
    const rows = [
      r('a', 0, 'parallel', { correct: true, wallMs: 100, promptTokens: 40, prefillMs: 10 }),
      r('b', 0, 'parallel', { correct: false, wallMs: 200, promptTokens: 60, prefillMs: 20 }),
    ];
    const m = summarizeMode(rows)!;
    expect(m.accuracyStderr).toBeCloseTo(0.5, 12);
    expect(m.accuracyCI95).toEqual([0, 1]);
    expect(m.meanPromptTokens).toBe(50);
    expect(m.prefillMs).toEqual({ mean: 15 });
    expect(m.decodeWallMs).toEqual({ mean: 135 });
    const without = summarizeMode([r('a', 0, 'parallel', { correct: true, wallMs: 100 })])!;
    expect(without.meanPromptTokens).toBeNull();
    expect(without.prefillMs).toBeNull();
  });
});
