import { describe, expect, it } from 'vitest';
import { computeReward, rewardConfig, RewardConfigSchema } from '../../rl/reward.js';

const correct = { correct: true, promptTokens: 100 };

describe('computeReward', () => {
  it('a sequential trajectory (L = T) has η = 0 and earns only correctness', () => {
    expect(computeReward({ ...correct, totalTokens: 300, criticalPathTokens: 300 })).toEqual({
      reward: 1,
      correctness: 1,
      acceleration: 0,
      eta: 0,
      formatPenalty: 0,
    });
  });

  it('counts the prompt in T and L by default: η = 1 − (170+100)/(200+100) = 0.1', () => {
    const r = computeReward({ ...correct, totalTokens: 200, criticalPathTokens: 170 });
    expect(r.eta).toBeCloseTo(0.1, 12);
    expect(r.acceleration).toBeCloseTo(0.05, 12);
    expect(r.reward).toBeCloseTo(1.05, 12);
  });

  it('without the prompt: η = 1 − 170/200 = 0.15', () => {
    const r = computeReward({ ...correct, totalTokens: 200, criticalPathTokens: 170 }, { countPromptTokens: false });
    expect(r.eta).toBeCloseTo(0.15, 12);
    expect(r.reward).toBeCloseTo(1.075, 12);
  });

  it('a wrong answer gets −1 and no bonus, whatever η', () => {
    const r = computeReward({ correct: false, promptTokens: 100, totalTokens: 200, criticalPathTokens: 170 });
    expect(r.reward).toBe(-1);
    expect(r.acceleration).toBe(0);
    expect(r.eta).toBeCloseTo(0.1, 12);
    const wrong = { correct: false, promptTokens: 0, totalTokens: 10, criticalPathTokens: 5 };
    expect(computeReward(wrong, { incorrectReward: 0 }).reward).toBe(0);
  });

  it('clips η at 0.2 (bonus at most 0.1), and the clip and factor are configurable', () => {
    // The bundled model's products family: T = 426, L = 315 → η ≈ 0.2606.
    const input = { correct: true, promptTokens: 0, totalTokens: 426, criticalPathTokens: 315 };
    expect(computeReward(input).eta).toBeCloseTo(0.26056338, 8);
    expect(computeReward(input).reward).toBeCloseTo(1.1, 12);
    expect(computeReward(input, { accelerationClip: 0.3 }).reward).toBeCloseTo(1 + 0.5 * 0.26056338, 8);
    expect(computeReward(input, { accelerationFactor: 1 }).reward).toBeCloseTo(1.2, 12);
    expect(computeReward(input, { accelerationReward: 0 }).reward).toBe(1);
    expect(computeReward(input, { correctReward: 2 }).reward).toBeCloseTo(2.1, 12);
  });

  it('applies a format penalty only when configured and formatValid is false', () => {
    const input = { ...correct, totalTokens: 200, criticalPathTokens: 170 };
    expect(computeReward({ ...input, formatValid: false }).reward).toBeCloseTo(1.05, 12);
    const penalised = computeReward({ ...input, formatValid: false }, { formatPenalty: 0.5 });
    expect(penalised.formatPenalty).toBe(0.5);
    expect(penalised.reward).toBeCloseTo(0.55, 12);
    expect(computeReward({ ...input, formatValid: true }, { formatPenalty: 0.5 }).reward).toBeCloseTo(1.05, 12);
    expect(computeReward(input, { formatPenalty: 0.5 }).reward).toBeCloseTo(1.05, 12);
  });

  it('rejects impossible counts and bad config', () => {
    expect(() => computeReward({ ...correct, totalTokens: 10, criticalPathTokens: 11 })).toThrow(/exceeds totalTokens/);
    expect(() => computeReward({ ...correct, totalTokens: 10.5, criticalPathTokens: 1 })).toThrow(/whole number/);
    expect(() => computeReward({ ...correct, promptTokens: -1, totalTokens: 1, criticalPathTokens: 1 })).toThrow(
      /promptTokens/,
    );
    expect(() => rewardConfig({ accelerationClip: -0.1 })).toThrow();
    expect(() => RewardConfigSchema.parse({ clip: 0.1 })).toThrow(/clip/);
    expect(rewardConfig()).toEqual({
      correctReward: 1,
      incorrectReward: -1,
      accelerationReward: 1,
      accelerationFactor: 0.5,
      accelerationClip: 0.2,
      formatPenalty: 0,
      countPromptTokens: true,
    });
  });
});
