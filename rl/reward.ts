import { z } from 'zod';

/**
 * Reward settings. Defaults are the reference RL run's: ±1 correctness, a speed bonus of
 * `accelerationReward × accelerationFactor × min(η, accelerationClip)` (1.0 × 0.5 × ≤0.2, so at
 * most 0.1) paid only to correct answers, no format penalty, prompt tokens counted in T and L.
 */
export const RewardConfigSchema = z.strictObject({
  correctReward: z.number().default(1),
  incorrectReward: z.number().default(-1),
  /** Kept apart from the factor to mirror the reference's two knobs; only their product matters. */
  accelerationReward: z.number().nonnegative().default(1),
  accelerationFactor: z.number().nonnegative().default(0.5),
  accelerationClip: z.number().nonnegative().default(0.2),
  /** Subtracted when the input says `formatValid: false`. The reference applies none. */
  formatPenalty: z.number().nonnegative().default(0),
  /** Add the prompt tokens to both T and L, as the reference reward server does. */
  countPromptTokens: z.boolean().default(true),
});

/** Reward settings with every default filled in (see RewardConfigSchema). */
export type RewardConfig = z.infer<typeof RewardConfigSchema>;

/** What a trajectory's reward is computed from: correctness, T, L, prompt tokens and the format check. */
export interface RewardInput {
  correct: boolean;
  /** T: every response token, all threads included (prompt excluded). */
  totalTokens: number;
  /** L: the critical path of the response (sequential tokens plus the longest thread per block). */
  criticalPathTokens: number;
  promptTokens: number;
  /** Undefined means "not checked": no penalty. */
  formatValid?: boolean;
}

/** A trajectory's reward and its parts (correctness, speed bonus, η, format penalty). */
export interface Reward {
  reward: number;
  /** The correctness term (correctReward or incorrectReward). */
  correctness: number;
  /** The speed bonus actually paid (0 for wrong answers). */
  acceleration: number;
  /** η = 1 − L/T, over the counted tokens. */
  eta: number;
  /** The penalty subtracted (≥ 0). */
  formatPenalty: number;
}

/** Validate a partial config and fill in the defaults (throws a ZodError on bad values). */
export function rewardConfig(config: Partial<RewardConfig> = {}): RewardConfig {
  return RewardConfigSchema.parse(config);
}

/**
 * The reward of one trajectory, its correctness term plus the clipped speed bonus on a correct
 * answer, minus any format penalty (`config` over the defaults).
 */
export function computeReward(input: RewardInput, config: Partial<RewardConfig> | RewardConfig = {}): Reward {
  const c = rewardConfig(config);
  const { totalTokens: t, criticalPathTokens: l, promptTokens: p } = input;
  for (const [name, v] of [
    ['totalTokens', t],
    ['criticalPathTokens', l],
    ['promptTokens', p],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`reward: ${name} must be a whole number ≥ 0, got ${v}`);
  }
  if (l > t) throw new RangeError(`reward: criticalPathTokens (${l}) exceeds totalTokens (${t})`);

  const prompt = c.countPromptTokens ? p : 0;
  const counted = t + prompt;
  const eta = counted === 0 ? 0 : 1 - (l + prompt) / counted;
  const correctness = input.correct ? c.correctReward : c.incorrectReward;
  const acceleration = input.correct
    ? c.accelerationReward * c.accelerationFactor * Math.min(eta, c.accelerationClip)
    : 0;
  const formatPenalty = input.formatValid === false ? c.formatPenalty : 0;
  return { reward: correctness + acceleration - formatPenalty, correctness, acceleration, eta, formatPenalty };
}
