/**
 * Uncertainty of eval figures: standard errors and bootstrap intervals over problems.
 *
 * Problems are the unit of resampling (a problem's k samples are not independent draws from the
 * benchmark), and both modes of a problem are resampled together, so an interval for a speedup
 * between modes is a paired one. Resampling is seeded: the same rows give the same intervals.
 */
import { createRng } from '../src/internal/random.js';

/** How bootstrap intervals are drawn: resamples and seed. */
export interface BootstrapOptions {
  /** Resamples of the problems (default 1000). */
  resamples?: number;
  /** Seed of the resampling stream (default 0). */
  seed?: number;
}

export const DEFAULT_RESAMPLES = 1000;
export const CONFIDENCE = 0.95;

/** A confidence interval as its lower and upper bounds. */
export type Interval = [lo: number, hi: number];

/**
 * The q-quantile of sorted values, interpolating linearly between order statistics (numpy's
 * default, "type 7").
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values');
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** The central `CONFIDENCE` percentile interval of a bootstrap distribution. */
export function percentileInterval(values: readonly number[]): Interval {
  const sorted = [...values].sort((a, b) => a - b);
  const tail = (1 - CONFIDENCE) / 2;
  return [quantile(sorted, tail), quantile(sorted, 1 - tail)];
}

/**
 * The standard error of a mean of per-item scores: sample standard deviation (n − 1) over √n,
 * as lm-evaluation-harness reports it. 0 for fewer than two items.
 */
export function standardError(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n);
}

/**
 * `statistic` over `resamples` resamples (with replacement) of `items`, in resample order. Each
 * resample has as many items as `items`; null statistics (e.g. a ratio over zero) are dropped.
 */
export function bootstrap<T>(
  items: readonly T[],
  statistic: (sample: readonly T[]) => number | null,
  options: BootstrapOptions = {},
): number[] {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new RangeError(`bootstrap: resamples must be a whole number ≥ 1, got ${resamples}`);
  if (items.length === 0) return [];
  const rng = createRng(options.seed ?? 0);
  const out: number[] = [];
  const sample: T[] = new Array<T>(items.length);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < items.length; i++) sample[i] = items[Math.floor(rng.next() * items.length)]!;
    const v = statistic(sample);
    if (v !== null && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** One problem's samples of a mode: how many, how many correct. */
export interface ProblemScore {
  samples: number;
  correct: number;
}

/** Accuracy (avg@k: all correct samples over all samples) of a set of problems. */
export function pooledAccuracy(problems: readonly ProblemScore[]): number | null {
  let n = 0;
  let c = 0;
  for (const p of problems) {
    n += p.samples;
    c += p.correct;
  }
  return n > 0 ? c / n : null;
}

/** The uncertainty of an accuracy over problems: its standard error and 95% bootstrap interval. */
export interface AccuracyUncertainty {
  /** Standard error over problems (each problem's share of correct samples is one score). */
  stderr: number;
  /** 95% percentile bootstrap interval over problems. */
  ci95: Interval;
}

/** The standard error and bootstrap interval of avg@k over problems. */
export function accuracyUncertainty(
  problems: readonly ProblemScore[],
  options: BootstrapOptions = {},
): AccuracyUncertainty | null {
  const point = pooledAccuracy(problems);
  if (point === null) return null;
  const dist = bootstrap(problems, pooledAccuracy, options);
  return {
    stderr: standardError(problems.map((p) => p.correct / p.samples)),
    ci95: dist.length ? percentileInterval(dist) : [point, point],
  };
}

/** 95% bootstrap interval of a statistic over problems (null when it is never defined). */
export function intervalOver<T>(
  items: readonly T[],
  statistic: (sample: readonly T[]) => number | null,
  options: BootstrapOptions = {},
): Interval | null {
  const dist = bootstrap(items, statistic, options);
  return dist.length ? percentileInterval(dist) : null;
}
