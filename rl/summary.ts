/** Aggregate figures of a set of rollout rows (the CLI's closing line). */
import type { RolloutRow } from './rollout-row.js';

export interface RolloutSummary {
  trajectories: number;
  /** Distinct (dataset, problem, mode) groups. */
  groups: number;
  /** Means over trajectories; null when there are none. */
  meanReward: number | null;
  accuracy: number | null;
  /** Mean η = 1 − L/T of the responses. */
  meanAcceleration: number | null;
  /** Share of trajectories with at least one parallel block. */
  parallelShare: number | null;
  /** Share passing the strict format check. */
  formatValidShare: number | null;
}

type SummaryInput = Pick<RolloutRow, 'dataset' | 'problemId' | 'mode' | 'reward' | 'correct' | 'acceleration' | 'parallelBlocks' | 'formatValid'>;

export function summarizeRollouts(rows: readonly SummaryInput[]): RolloutSummary {
  const n = rows.length;
  const mean = (f: (r: SummaryInput) => number): number | null => (n ? rows.reduce((s, r) => s + f(r), 0) / n : null);
  return {
    trajectories: n,
    groups: new Set(rows.map((r) => JSON.stringify([r.dataset, r.problemId, r.mode]))).size,
    meanReward: mean((r) => r.reward),
    accuracy: mean((r) => (r.correct ? 1 : 0)),
    meanAcceleration: mean((r) => r.acceleration),
    parallelShare: mean((r) => (r.parallelBlocks > 0 ? 1 : 0)),
    formatValidShare: mean((r) => (r.formatValid ? 1 : 0)),
  };
}

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, digits = 3): string => (x === null ? '–' : x.toFixed(digits));

/** One line: counts, mean reward, accuracy, mean η, share with parallel blocks. */
export function formatRolloutSummary(s: RolloutSummary): string {
  return [
    `${s.trajectories} trajectories in ${s.groups} groups`,
    `mean reward ${num(s.meanReward)}`,
    `accuracy ${pct(s.accuracy)}`,
    `mean η ${num(s.meanAcceleration)}`,
    `parallel ${pct(s.parallelShare)}`,
    `format ok ${pct(s.formatValidShare)}`,
  ].join(' | ');
}
