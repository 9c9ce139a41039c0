/** Aggregate figures of a set of rollout rows (the CLI's closing line). */
import { GREEDY_BELOW } from '../src/engine/sampling.js';
import type { RolloutRow } from './rollout-row.js';

/** Aggregate figures of a set of rollout rows: means and shares, and how many groups give no learning signal. */
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
  /** Groups of two or more trajectories whose rewards are all equal: every advantage is 0, no learning signal. */
  flatGroups: number;
  /** Of the flat groups, those whose trajectories are all the same text (sampling too cold to vary). */
  identicalGroups: number;
  /** Groups of two or more trajectories (the ones a spread can be asked of). */
  comparableGroups: number;
}

type SummaryInput = Pick<
  RolloutRow,
  'dataset' | 'problemId' | 'mode' | 'reward' | 'correct' | 'acceleration' | 'parallelBlocks' | 'formatValid' | 'text'
>;

const groupKey = (r: SummaryInput): string => JSON.stringify([r.dataset, r.problemId, r.mode]);

/** The RolloutSummary of `rows`, grouped by dataset, problem and mode. */
export function summarizeRollouts(rows: readonly SummaryInput[]): RolloutSummary {
  const n = rows.length;
  const mean = (f: (r: SummaryInput) => number): number | null => (n ? rows.reduce((s, r) => s + f(r), 0) / n : null);
  const groups = new Map<string, SummaryInput[]>();
  for (const r of rows) groups.set(groupKey(r), [...(groups.get(groupKey(r)) ?? []), r]);
  const comparable = [...groups.values()].filter((g) => g.length > 1);
  const flat = comparable.filter((g) => g.every((r) => r.reward === g[0]!.reward));
  return {
    trajectories: n,
    groups: groups.size,
    meanReward: mean((r) => r.reward),
    accuracy: mean((r) => (r.correct ? 1 : 0)),
    meanAcceleration: mean((r) => r.acceleration),
    parallelShare: mean((r) => (r.parallelBlocks > 0 ? 1 : 0)),
    formatValidShare: mean((r) => (r.formatValid ? 1 : 0)),
    flatGroups: flat.length,
    identicalGroups: flat.filter((g) => g.every((r) => r.text === g[0]!.text)).length,
    comparableGroups: comparable.length,
  };
}

/**
 * What a trainer should know before using the rollouts: groups with zero reward spread give no
 * learning signal, and why (identical samples: too cold; else every answer right or every one wrong).
 */
export function rolloutWarnings(s: RolloutSummary, run: { temperature: number }): string[] {
  if (s.flatGroups === 0) return [];
  const out = [
    `${s.flatGroups} of ${s.comparableGroups} groups have zero reward spread: every trajectory of the group got the same reward, ` +
      `so every advantage is 0 and the group gives the trainer no learning signal.`,
  ];
  if (s.identicalGroups > 0) {
    const why =
      run.temperature < GREEDY_BELOW
        ? `at temperature ${run.temperature} decoding is greedy`
        : `at temperature ${run.temperature} the model is near-deterministic (the bundled model varies only from about 1.5)`;
    out.push(
      `In ${s.identicalGroups} of them every sample is the same text: ${why}. Raise --temperature (1.5 to 1.7 for the bundled model).`,
    );
  }
  const mixed = s.flatGroups - s.identicalGroups;
  if (mixed > 0) {
    out.push(
      `In ${mixed} of them the texts differ but got the same reward (all wrong, or all right at the same speed): pick problems nearer the model's ability, or a larger --group.`,
    );
  }
  return out;
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
