import { describe, expect, it } from 'vitest';
import { broadcastAdvantage, computeAdvantages } from '../../rl/advantage.js';

const group = (problemId: string, rewards: number[]) => rewards.map((reward) => ({ problemId, reward }));

function expectClose(actual: number[], expected: number[], digits = 9) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i]!, digits));
}

describe('P-GRPO advantages (mean-centred)', () => {
  it('all correct: only the speed bonus separates them', () => {
    // mean = 1.0375
    expectClose(computeAdvantages(group('p', [1.1, 1.05, 1.0, 1.0])), [0.0625, 0.0125, -0.0375, -0.0375]);
  });

  it('all wrong: zero advantage', () => {
    expect(computeAdvantages(group('p', [-1, -1, -1]))).toEqual([0, 0, 0]);
    expect(computeAdvantages(group('p', [-1, -1, -1]), { normalize: 'std' })).toEqual([0, 0, 0]);
  });

  it('mixed group: r − 0.025', () => {
    expectClose(computeAdvantages(group('p', [1.1, -1, 1.0, -1])), [1.075, -1.025, 0.975, -1.025]);
  });

  it('groups by problem id and keeps input order when groups interleave', () => {
    const rows = [
      { problemId: 'a', reward: 1 },
      { problemId: 7, reward: 1.1 },
      { problemId: 'a', reward: -1 },
      { problemId: 7, reward: -1 },
    ];
    expectClose(computeAdvantages(rows), [1, 1.05, -1, -1.05]);
  });

  it('a single-member group keeps its reward', () => {
    expect(computeAdvantages([{ problemId: 'x', reward: 1.07 }])).toEqual([1.07]);
    expect(computeAdvantages([{ problemId: 'x', reward: -1 }], { normalize: 'std' })).toEqual([-1]);
  });

  it('rejects a non-finite reward', () => {
    expect(() => computeAdvantages([{ problemId: 'x', reward: NaN }])).toThrow(/reward NaN/);
  });
});

describe('standard GRPO (std-normalised)', () => {
  it('divides the centred rewards by the sample std + 1e-6', () => {
    // std of [1.075, -1.025, 0.975, -1.025] with n − 1 = 1.1842719...
    const std = computeAdvantages(group('p', [1.1, -1, 1.0, -1]), { normalize: 'std' });
    expectClose(std, [0.90772994, -0.86550995, 0.82328995, -0.86550995], 7);
  });

  it('inflates the tiny speed-bonus gaps of an all-correct group to unit scale', () => {
    const mean = computeAdvantages(group('p', [1.1, 1.05, 1.0, 1.0]));
    const std = computeAdvantages(group('p', [1.1, 1.05, 1.0, 1.0]), { normalize: 'std' });
    expectClose(std, [1.30555515, 0.26111103, -0.78333309, -0.78333309], 7);
    expect(Math.max(...std.map(Math.abs))).toBeGreaterThan(10 * Math.max(...mean.map(Math.abs)));
  });
});

describe('broadcastAdvantage', () => {
  it('gives every generated token of every call the trajectory advantage', () => {
    const calls = [{ completionIds: [5, 6, 7] }, { completionIds: [] }, { completionIds: [8, 9] }];
    expect(broadcastAdvantage(0.25, calls)).toEqual([[0.25, 0.25, 0.25], [], [0.25, 0.25]]);
  });
});
