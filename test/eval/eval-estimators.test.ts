/**
 * The per-mode estimators of summary.json against values worked out by hand as exact fractions:
 * passAt (Chen et al. 2021), majAt (a vote over k of n samples), G-Pass@k_τ (Liu et al. 2024),
 * and their stability where the binomials overflow doubles.
 */
import { describe, expect, it } from 'vitest';
import {
  estimatorKs,
  gPassAtK,
  hypergeometric,
  majorityAtK,
  passAtK,
  summarizeMode,
  type SampleRow,
} from '../../eval/metrics.js';

/** C(n, k) exactly. */
function binom(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

/** num/den as a double, exactly to 15 digits. */
const ratio = (num: bigint, den: bigint): number => Number((num * 10n ** 15n) / den) / 1e15;

function row(problemId: string, sample: number, correct: boolean, answer: string | null): SampleRow {
  return {
    problemId,
    sample,
    mode: 'parallel',
    correct,
    answer,
    formatValid: true,
    parallelBlocks: 0,
    totalTokens: 1,
    criticalPathTokens: 1,
    acceleration: 0,
    wallMs: 1,
  };
}

describe('the k the estimators report', () => {
  it('are 1, 2, 4, ... below K, and K itself', () => {
    expect(estimatorKs(1)).toEqual([1]);
    expect(estimatorKs(2)).toEqual([1, 2]);
    expect(estimatorKs(6)).toEqual([1, 2, 4, 6]);
    expect(estimatorKs(8)).toEqual([1, 2, 4, 8]);
    expect(estimatorKs(9)).toEqual([1, 2, 4, 8, 9]);
  });
});

describe('G-Pass@k_τ', () => {
  it('matches hand-computed hypergeometric tails (n = 5, c = 2)', () => {
    // C(5,2) = 10 draws of two: 3 with no correct, 6 with one, 1 with two.
    expect(gPassAtK(5, 2, 2, 0.5)).toBeCloseTo(7 / 10, 14); // at least ⌈1⌉ = 1 correct
    expect(gPassAtK(5, 2, 2, 0.75)).toBeCloseTo(1 / 10, 14); // at least ⌈1.5⌉ = 2
    expect(gPassAtK(5, 2, 2, 1)).toBeCloseTo(1 / 10, 14);
    // C(5,4) = 5 draws of four: 2 with one correct, 3 with both.
    expect(gPassAtK(5, 2, 4, 0.5)).toBeCloseTo(3 / 5, 14);
    expect(gPassAtK(5, 2, 4, 0.75)).toBe(0);
    expect(gPassAtK(5, 2, 4, 1)).toBe(0);
    // n = 4, c = 3, k = 2: C(4,2) = 6 draws, 3 of them both correct.
    expect(gPassAtK(4, 3, 2, 1)).toBeCloseTo(1 / 2, 14);
    expect(gPassAtK(4, 3, 2, 0.5)).toBe(1);
  });

  it('is pass@1 at k = 1 for every τ, and pass@k at the smallest τ', () => {
    for (const tau of [0.5, 0.75, 1]) expect(gPassAtK(7, 3, 1, tau)).toBeCloseTo(3 / 7, 14);
    expect(gPassAtK(10, 3, 4, 0.25)).toBeCloseTo(passAtK(10, 3, 4), 14);
  });

  it('agrees with exact big-integer sums where C(n, k) overflows doubles', () => {
    const [n, c, k] = [1500, 600, 700];
    expect(Number.isFinite(Number(binom(n, k)))).toBe(false);
    for (const tau of [0.5, 0.75, 1]) {
      let tail = 0n;
      for (let j = Math.ceil(tau * k); j <= k; j++) tail += binom(c, j) * binom(n - c, k - j);
      expect(gPassAtK(n, c, k, tau)).toBeCloseTo(ratio(tail, binom(n, k)), 12);
    }
    const pmf = hypergeometric(20000, 10000, 10000);
    expect(pmf.every(Number.isFinite)).toBe(true);
    expect(pmf.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    // Symmetric around 5000: the upper half holds half the mass plus half the middle term.
    expect(gPassAtK(20000, 10000, 10000, 0.5)).toBeCloseTo(0.5 + pmf[5000]! / 2, 12);
  });

  it('rejects impossible arguments', () => {
    expect(() => gPassAtK(3, 1, 4, 0.5)).toThrow(RangeError);
    expect(() => gPassAtK(3, 1, 2, 0)).toThrow(RangeError);
    expect(() => gPassAtK(3, 1, 2, 1.5)).toThrow(RangeError);
  });
});

describe('maj@k from n samples', () => {
  // Four samples: answers A (correct), A, B, C.
  const votes = [
    { size: 2, correct: true },
    { size: 1, correct: false },
    { size: 1, correct: false },
  ];

  it('matches hand-counted draws, ties split evenly', () => {
    expect(majorityAtK(votes, 0, 1)).toBeCloseTo(1 / 2, 14); // 2 of 4 single samples say A
    // Six pairs: {A,A} wins; {A,B} x2 and {A,C} x2 tie (1/2 each); {B,C} loses: (1 + 4/2) / 6.
    expect(majorityAtK(votes, 0, 2)).toBeCloseTo(1 / 2, 14);
    // Four triples: {A,A,B}, {A,A,C} win; {A,B,C} x2 are three-way ties (1/3 each): (2 + 2/3) / 4.
    expect(majorityAtK(votes, 0, 3)).toBeCloseTo(2 / 3, 14);
    expect(majorityAtK(votes, 0, 4)).toBe(1);
  });

  it('leaves samples without an answer out of the vote', () => {
    // A (correct), B, and one unanswered: pairs {A,B} tie (1/2), {A,-} wins, {B,-} loses: (1/2 + 1) / 3.
    const two = [
      { size: 1, correct: true },
      { size: 1, correct: false },
    ];
    expect(majorityAtK(two, 1, 2)).toBeCloseTo(1 / 2, 14);
    expect(majorityAtK([], 3, 2)).toBe(0);
    expect(majorityAtK([{ size: 1, correct: true }], 4, 1)).toBeCloseTo(1 / 5, 14);
  });

  it('counts exactly for many samples', () => {
    // 40 samples: 16 say 7 (correct), 14 say 9, 10 say nothing. maj@2: draws with at least one 7 and
    // no 9, plus half of the {7, 9} ties: (C(16,2) + 16·10 + 16·14/2) / C(40,2).
    const many = [
      { size: 16, correct: true },
      { size: 14, correct: false },
    ];
    expect(majorityAtK(many, 10, 2)).toBeCloseTo((120 + 160 + 112) / 780, 14);
    expect(majorityAtK(many, 10, 40)).toBe(1);
  });
});

describe('a mode summary reports every estimator', () => {
  // Problem p: 4 samples, answers 5 (correct), 5 (correct), 6, null. Problem q: 4 samples, 1 correct.
  const rows = [
    row('p', 0, true, '5'),
    row('p', 1, true, '5'),
    row('p', 2, false, '6'),
    row('p', 3, false, null),
    row('q', 0, false, '1'),
    row('q', 1, true, '2'),
    row('q', 2, false, '1'),
    row('q', 3, false, '3'),
  ];
  const m = summarizeMode(rows)!;

  it('passAt at 1, 2 and 4, passAt["1"] the accuracy, passAt[K] the old passAtK', () => {
    expect(Object.keys(m.passAt!)).toEqual(['1', '2', '4']);
    expect(m.passAt!['1']).toBeCloseTo(m.accuracy, 14);
    expect(m.accuracy).toBeCloseTo(3 / 8, 14);
    // p: 1 - C(2,2)/C(4,2) = 5/6; q: 1 - C(3,2)/C(4,2) = 1/2.
    expect(m.passAt!['2']).toBeCloseTo((5 / 6 + 1 / 2) / 2, 14);
    expect(m.passAt!['4']).toBe(1);
    expect(m.passAt!['4']).toBe(m.passAtK);
  });

  it('majAt: the vote over k drawn samples; majAt["1"] is the accuracy', () => {
    expect(m.majAt!['1']).toBeCloseTo(3 / 8, 14);
    // p pairs (of 6): {5,5} wins; {5,6} x2 tie; {5,-} x2 win; {6,-} loses -> (1 + 1 + 2) / 6 = 2/3.
    // q pairs: answers 1,2,1,3 (2 correct): {1,1} loses; {1,2} x2 tie; {1,3} x2 lose; {2,3} ties -> 1.5/6 = 1/4.
    expect(m.majAt!['2']).toBeCloseTo((2 / 3 + 1 / 4) / 2, 14);
    // All four: p votes 5 (2) over 6 (1); q votes 1 (2) over 2 and 3.
    expect(m.majAt!['4']).toBe(0.5);
    expect(m.majAtK).toBe(0.5);
  });

  it('G-Pass@k at τ = 0.5, 0.75, 1', () => {
    expect(Object.keys(m.gPassAt!)).toEqual(['1', '2', '4']);
    expect(Object.keys(m.gPassAt!['2']!)).toEqual(['0.5', '0.75', '1.0']);
    // k = 2, τ = 1: both correct: p 1/6, q 0.
    expect(m.gPassAt!['2']!['1.0']).toBeCloseTo(1 / 12, 14);
    expect(m.gPassAt!['2']!['0.5']).toBeCloseTo(m.passAt!['2']!, 14);
    // k = 4, τ = 0.5: at least 2 of 4 correct: p yes, q no.
    expect(m.gPassAt!['4']!['0.5']).toBe(0.5);
    expect(m.gPassAt!['4']!['0.75']).toBe(0);
    for (const tau of ['0.5', '0.75', '1.0']) expect(m.gPassAt!['1']![tau]).toBeCloseTo(m.accuracy, 14);
  });

  it('caps k at a problem that has fewer samples', () => {
    const uneven = summarizeMode([...rows, row('p', 4, true, '5')])!;
    expect(Object.keys(uneven.passAt!)).toEqual(['1', '2', '4', '5']);
    // q has 4 samples: at k = 5 its figure is taken at k = 4.
    expect(uneven.passAt!['5']).toBe(1);
  });
});
