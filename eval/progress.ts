/**
 * What the eval progress line says: a bar with done/total, accuracy so far per mode, the
 * token-latency speedup so far, elapsed time and ETA (drawn by src/batch/progress.ts's progressBar).
 */
import { formatProgressBar } from '../src/batch/progress.js';
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

/** The figures after the bar: accuracy per mode so far, then the speedup or the parallel width. */
export function progressNotes(p: EvalProgress): string[] {
  const acc = (['parallel', 'sequential'] as const)
    .filter((m) => p.accuracy[m] !== null)
    .map((m) => `${m === 'parallel' ? 'par' : 'seq'} ${(p.accuracy[m]! * 100).toFixed(1)}%`)
    .join(' ');
  const notes: string[] = [];
  if (acc) notes.push(`acc ${acc}`);
  if (p.speedup !== null) notes.push(`speedup ${p.speedup.toFixed(2)}×`);
  if (p.parallelWidth != null) notes.push(`width T/L ${p.parallelWidth.toFixed(2)}×`);
  return notes;
}

/** The whole eval progress line (as the runner's progress bar draws it). */
export function formatProgress(p: EvalProgress, width = 24): string {
  return formatProgressBar('', p.done, p.total, progressNotes(p), p.elapsedMs, {
    width,
    resumed: p.resumed,
    percent: true,
  });
}
