/**
 * The prefill ledger of a run: prompt tokens the servers were sent and how many their prefix
 * caches served, summed per mode by phase (sequential calls, thread starts, continuations after
 * a join), and what each join cost.
 */
import { addKnown, addTally, emptyTally, PREFILL_PHASES, type PrefillPhase } from '../src/orchestrator/ledger.js';
import type { RowPrefill } from './results.js';

/** Sums over the samples of a mode, by phase and in all. */
export type PhaseTotals<T> = Record<PrefillPhase | 'total', T>;

/** The joins of one block number (block 0 is each sample's first), summed over the samples. */
export interface JoinTotals {
  block: number;
  joins: number;
  promptTokens: number;
  /** Null unless every join's server reported its cached tokens. */
  cachedPromptTokens: number | null;
}

/** A mode's prefill ledger in summary.json: prompt and cached tokens by phase, and the joins. */
export interface PrefillSummary {
  promptTokens: PhaseTotals<number>;
  /** A phase is null when any of its calls' cached tokens are unknown (a server that does not report them). */
  cachedPromptTokens: PhaseTotals<number | null>;
  joins: JoinTotals[];
}

/** The ledger of these rows, or null unless every row recorded one (rows of older runs do not). */
export function summarizePrefill(rows: ReadonlyArray<{ prefill?: RowPrefill | undefined }>): PrefillSummary | null {
  if (!rows.length || rows.some((r) => r.prefill === undefined)) return null;
  const tallies = { sequential: emptyTally(), threadStarts: emptyTally(), afterJoin: emptyTally() };
  const joins = new Map<number, JoinTotals>();
  for (const r of rows) {
    for (const phase of PREFILL_PHASES) addTally(tallies[phase], r.prefill!.phases[phase]);
    for (const j of r.prefill!.joins) {
      const t = joins.get(j.block) ?? { block: j.block, joins: 0, promptTokens: 0, cachedPromptTokens: 0 };
      t.joins++;
      t.promptTokens += j.promptTokens;
      t.cachedPromptTokens = addKnown(t.cachedPromptTokens, j.cachedPromptTokens);
      joins.set(j.block, t);
    }
  }
  const total = emptyTally();
  for (const phase of PREFILL_PHASES) addTally(total, tallies[phase]);
  const totals = { ...tallies, total };
  const pick = <T>(f: (t: (typeof totals)['total']) => T): PhaseTotals<T> => ({
    sequential: f(totals.sequential),
    threadStarts: f(totals.threadStarts),
    afterJoin: f(totals.afterJoin),
    total: f(totals.total),
  });
  return {
    promptTokens: pick((t) => t.promptTokens),
    cachedPromptTokens: pick((t) => t.cachedPromptTokens),
    joins: [...joins.values()].sort((a, b) => a.block - b.block),
  };
}
