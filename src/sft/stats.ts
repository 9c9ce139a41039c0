/** Dataset statistics shared by both stages (written to stats.json and report.md). */
import type { Assessment } from './assess.js';

/** Count, mean, extremes and percentiles (10th, median, 90th) of a list of numbers. */
export interface Distribution {
  count: number;
  mean: number;
  min: number;
  p10: number;
  median: number;
  p90: number;
  max: number;
}

/** The statistics both SFT stages write: pass rates over the judged trajectories, and the shape of the kept ones. */
export interface DatasetStats {
  /** Trajectories produced and judged. */
  generated: number;
  /** Trajectories that pass the strict validator. */
  formatPass: number;
  formatPassRate: number;
  /** Trajectories whose answer grades correct. */
  correct: number;
  accuracy: number;
  /** Trajectories written to the dataset. */
  kept: number;
  /** kept / generated. */
  keptShare: number;
  /** Kept trajectories with at least one parallel block. */
  keptWithParallel: number;
  /** Over kept trajectories: */
  blocksPerTrajectory: Distribution | null;
  threadsPerBlock: Distribution | null;
  /** How many blocks have 2, 3, ... threads. */
  threadsPerBlockCounts: Record<string, number>;
  /** η = 1 − L/T per kept trajectory. */
  acceleration: Distribution | null;
  /** η per kept trajectory in bins of 0.05 (`"0.10-0.15": n`). */
  accelerationHistogram: Record<string, number>;
  totalTokens: Distribution | null;
  criticalPathTokens: Distribution | null;
  /** Sum over kept trajectories. */
  keptTokens: number;
}

const quantile = (sorted: readonly number[], q: number): number => {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
};

/** The Distribution of `values` (percentiles interpolated linearly), or null when there are none. */
export function distribution(values: readonly number[]): Distribution | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    mean: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    min: sorted[0]!,
    p10: quantile(sorted, 0.1),
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    max: sorted.at(-1)!,
  };
}

/**
 * Counts of `values` in bins of `width` from 0, keyed like `0.10-0.15` (empty bins left out,
 * negatives in the first).
 */
export function histogram(values: readonly number[], width: number): Record<string, number> {
  const bins = new Map<number, number>();
  for (const v of values) {
    const bin = Math.max(0, Math.floor(v / width + 1e-9));
    bins.set(bin, (bins.get(bin) ?? 0) + 1);
  }
  const out: Record<string, number> = {};
  for (const bin of [...bins.keys()].sort((a, b) => a - b))
    out[`${(bin * width).toFixed(2)}-${((bin + 1) * width).toFixed(2)}`] = bins.get(bin)!;
  return out;
}

const ratio = (n: number, d: number): number => (d > 0 ? n / d : 0);

/** Statistics of a dataset: `all` judged trajectories, of which `kept` were written. */
export function datasetStats(all: readonly Assessment[], kept: readonly Assessment[]): DatasetStats {
  const formatPass = all.filter((a) => a.formatValid).length;
  const correct = all.filter((a) => a.correct).length;
  const blocks = kept.flatMap((a) => a.threadsPerBlock);
  const counts: Record<string, number> = {};
  for (const n of [...blocks].sort((a, b) => a - b)) counts[n] = (counts[n] ?? 0) + 1;
  const eta = kept.map((a) => a.stats.acceleration);
  return {
    generated: all.length,
    formatPass,
    formatPassRate: ratio(formatPass, all.length),
    correct,
    accuracy: ratio(correct, all.length),
    kept: kept.length,
    keptShare: ratio(kept.length, all.length),
    keptWithParallel: kept.filter((a) => a.threadsPerBlock.length > 0).length,
    blocksPerTrajectory: distribution(kept.map((a) => a.threadsPerBlock.length)),
    threadsPerBlock: distribution(blocks),
    threadsPerBlockCounts: counts,
    acceleration: distribution(eta),
    accelerationHistogram: histogram(eta, 0.05),
    totalTokens: distribution(kept.map((a) => a.stats.totalTokens)),
    criticalPathTokens: distribution(kept.map((a) => a.stats.criticalPathTokens)),
    keptTokens: kept.reduce((s, a) => s + a.stats.totalTokens, 0),
  };
}
