/**
 * What the eval progress line says: a bar with done/total, accuracy so far per mode, the
 * token-latency speedup so far, elapsed time and ETA (written by src/progress.ts's progressLine).
 */
import { etaMs, formatBar, formatTiming } from '../src/batch/progress.js';
import type { Mode } from './results.js';

export interface EvalProgress {
  /** Samples finished, including those found already stored when the run resumed. */
  done: number;
  total: number;
  /** Samples found already stored at the start. */
  resumed: number;
  /** Accuracy so far per mode (null before its first sample). */
  accuracy: Record<Mode, number | null>;
  /** mean sequential total tokens / mean parallel critical-path tokens so far (both modes needed). */
  speedup: number | null;
  /** The parallel trajectories' own mean T / mean L so far (a one-mode run's figure: not a speedup). */
  parallelWidth?: number | null;
  elapsedMs: number;
  /** The sample that just finished. */
  last?: { dataset: string; problemId: string; sample: number; mode: Mode; correct: boolean };
}

export function formatProgress(p: EvalProgress, width = 24): string {
  const frac = p.total ? p.done / p.total : 1;
  const acc = (['parallel', 'sequential'] as const)
    .filter((m) => p.accuracy[m] !== null)
    .map((m) => `${m === 'parallel' ? 'par' : 'seq'} ${(p.accuracy[m]! * 100).toFixed(1)}%`)
    .join(' ');
  const parts = [`${formatBar(p.done, p.total, width)} ${(frac * 100).toFixed(0)}%`];
  if (acc) parts.push(`acc ${acc}`);
  if (p.speedup !== null) parts.push(`speedup ${p.speedup.toFixed(2)}×`);
  if (p.parallelWidth != null) parts.push(`width T/L ${p.parallelWidth.toFixed(2)}×`);
  parts.push(formatTiming(p.elapsedMs, etaMs(p.done - p.resumed, p.total - p.done, p.elapsedMs)));
  return parts.join(' | ');
}
