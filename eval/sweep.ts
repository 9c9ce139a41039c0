/**
 * Budget sweeps: the same samples at several response budgets (`budgets`: every thread's tokens
 * counted) or several caps on each thread's tokens (`threadBudgets`, the rest fixed). Each point is
 * a run of its own in the same folder, its rows keyed by the point; summary.json gets one
 * `{ datasets }` per point, the accuracy–latency frontier is drawn from them.
 */
import { formatSpecText, parseFormatSpec, DEFAULT_FORMAT } from '../src/format/dialects.js';
import { summarizeDataset, type DatasetSummary, type SampleRow, type SummaryOptions } from './metrics.js';
import type { Mode } from './results.js';
import { ThreadweaverError } from '../src/errors.js';

/** One point of a sweep. */
export type SweepPoint = { kind: 'budget'; tokens: number } | { kind: 'thread'; tokens: number };

export interface SweepPlan {
  /** Response budgets (maxTokens, every thread counted), ascending. */
  budgets?: readonly number[] | undefined;
  /** Caps on each thread's generated tokens, ascending; the response budget stays the run's. */
  threadBudgets?: readonly number[] | undefined;
}

/** What a sweep row carries to say which point it belongs to. */
export interface SweepFields {
  budget?: number;
  threadBudget?: number;
}

/** One point's figures: the same `datasets` structure as the top level of summary.json. */
export interface SweepSummary {
  datasets: Record<string, DatasetSummary>;
}

/** A sweep that cannot run as asked: budgets that are not whole numbers ≥ 1, or that repeat. */
export class SweepError extends ThreadweaverError {
  override name = 'SweepError';
}

/** The points of a plan as given (each list distinct whole numbers ≥ 1), sorted ascending. */
export function checkSweep(plan: SweepPlan): { budgets: number[]; threadBudgets: number[] } {
  const list = (xs: readonly number[] | undefined, name: string): number[] => {
    const out = [...(xs ?? [])];
    for (const x of out)
      if (!Number.isInteger(x) || x < 1) throw new SweepError(`runEval: ${name} must be whole numbers ≥ 1, got ${x}`);
    if (new Set(out).size !== out.length) throw new SweepError(`runEval: ${name} repeat: ${out.join(', ')}`);
    return out.sort((a, b) => a - b);
  };
  return { budgets: list(plan.budgets, 'budgets'), threadBudgets: list(plan.threadBudgets, 'threadBudgets') };
}

/** Every point of a plan: response budgets first, then thread caps. */
export function sweepPoints(plan: SweepPlan): SweepPoint[] {
  const { budgets, threadBudgets } = checkSweep(plan);
  return [
    ...budgets.map((tokens) => ({ kind: 'budget' as const, tokens })),
    ...threadBudgets.map((tokens) => ({ kind: 'thread' as const, tokens })),
  ];
}

/** The fields a row of this point records (none outside a sweep). */
export function sweepFields(point: SweepPoint | undefined): SweepFields {
  if (!point) return {};
  return point.kind === 'budget' ? { budget: point.tokens } : { threadBudget: point.tokens };
}

/**
 * A thread cap only changes what threads may write, and a sequential run never forks: its rows
 * are the same at every cap, so a thread sweep decodes the sequential mode once, as the base run.
 */
export function pointOfMode(point: SweepPoint | undefined, mode: Mode): SweepPoint | undefined {
  return point?.kind === 'thread' && mode === 'sequential' ? undefined : point;
}

/** The trajectory format with each thread capped at `tokens` (`threadweaver:thread-tokens=512`). */
export function withThreadCap(format: string | undefined, tokens: number): string {
  return formatSpecText({ ...parseFormatSpec(format ?? DEFAULT_FORMAT), threadTokens: tokens });
}

type SweepRow = SampleRow & SweepFields & { dataset: string };

/** A plan's rows by point: which rows each point (and the top level) summarizes. */
export interface SweepRows<R> {
  /** The top level of summary.json: the largest response budget, else the largest thread cap, else every row. */
  top: R[];
  budgets?: Map<number, R[]>;
  threadBudgets?: Map<number, R[]>;
}

/**
 * Split a plan's rows by sweep point. A thread cap's point holds its parallel rows and the base
 * run's sequential rows (the same at every cap, see pointOfMode).
 */
export function splitSweep<R extends SweepFields & { mode: Mode }>(rows: readonly R[], plan: SweepPlan): SweepRows<R> {
  const { budgets, threadBudgets } = checkSweep(plan);
  if (!budgets.length && !threadBudgets.length) return { top: [...rows] };
  const base = rows.filter((r) => r.budget === undefined && r.threadBudget === undefined);
  const out: SweepRows<R> = { top: [] };
  if (budgets.length) out.budgets = new Map(budgets.map((b) => [b, rows.filter((r) => r.budget === b)]));
  if (threadBudgets.length)
    out.threadBudgets = new Map(
      threadBudgets.map((t) => [
        t,
        [...rows.filter((r) => r.threadBudget === t), ...base.filter((r) => r.mode === 'sequential')],
      ]),
    );
  out.top = out.budgets ? out.budgets.get(budgets.at(-1)!)! : out.threadBudgets!.get(threadBudgets.at(-1)!)!;
  return out;
}

/** Per-dataset summaries of some rows, datasets in the given order (those with rows). */
export function summarizeDatasets(
  rows: readonly (SampleRow & { dataset: string })[],
  order: readonly string[],
  options: SummaryOptions,
): Record<string, DatasetSummary> {
  const names = [...new Set([...order, ...rows.map((r) => r.dataset)])];
  const datasets: Record<string, DatasetSummary> = {};
  for (const name of names) {
    const mine = rows.filter((r) => r.dataset === name);
    if (mine.length) datasets[name] = summarizeDataset(mine, options);
  }
  return datasets;
}

/** summary.json's `budgets` and `threadBudgets`: one `{ datasets }` per point, keyed by its token count. */
export function summarizeSweep(
  split: Pick<SweepRows<SweepRow>, 'budgets' | 'threadBudgets'>,
  order: readonly string[],
  options: SummaryOptions,
): { budgets?: Record<string, SweepSummary>; threadBudgets?: Record<string, SweepSummary> } {
  const each = (m: Map<number, SweepRow[]>): Record<string, SweepSummary> =>
    Object.fromEntries(
      [...m].map(([tokens, rows]) => [String(tokens), { datasets: summarizeDatasets(rows, order, options) }]),
    );
  return {
    ...(split.budgets ? { budgets: each(split.budgets) } : {}),
    ...(split.threadBudgets ? { threadBudgets: each(split.threadBudgets) } : {}),
  };
}
