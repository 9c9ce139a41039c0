import type { Call, Trajectory } from './trajectory.js';

/**
 * When a call's prompt was prefilled: the sequential calls before any block (`sequential`), the
 * first call of each thread (`threadStarts`: the block's context plus the thread's header), and
 * every call that goes on from a joined context (`afterJoin`: the sequential call after a block,
 * a thread's call after its nested block).
 */
export type PrefillPhase = 'sequential' | 'threadStarts' | 'afterJoin';
/** The phases in the order a trajectory passes them. */
export const PREFILL_PHASES: readonly PrefillPhase[] = ['sequential', 'threadStarts', 'afterJoin'];

/** Prompt tokens of some calls, and how many of them a prefix cache served. */
export interface PrefillTally {
  calls: number;
  promptTokens: number;
  /** Null unless every call's engine or server reported its cached tokens. */
  cachedPromptTokens: number | null;
}

/** What one join cost: the prompt of the call that went on after block `block` was joined. */
export interface JoinPrefill {
  block: number;
  promptTokens: number;
  cachedPromptTokens: number | null;
}

/** One call's line of the ledger. */
export interface CallPrefill {
  call: number;
  phase: PrefillPhase;
  promptTokens: number;
  cachedPromptTokens: number | null;
}

/** Every call's prompt tokens and cached tokens, by phase, and what each top-level join cost. */
export interface PrefillLedger {
  phases: Record<PrefillPhase, PrefillTally>;
  joins: JoinPrefill[];
  calls: CallPrefill[];
}

const cachedOf = (c: Call): number | null =>
  typeof c.usage.cachedPromptTokens === 'number' ? c.usage.cachedPromptTokens : null;

/** Null when any side is unknown. */
export const addKnown = (a: number | null, b: number | null): number | null =>
  a === null || b === null ? null : a + b;

/** A tally of no calls. */
export function emptyTally(): PrefillTally {
  return { calls: 0, promptTokens: 0, cachedPromptTokens: 0 };
}

/** Add `b` into `a`. */
export function addTally(a: PrefillTally, b: PrefillTally): void {
  a.calls += b.calls;
  a.promptTokens += b.promptTokens;
  a.cachedPromptTokens = addKnown(a.cachedPromptTokens, b.cachedPromptTokens);
}

/**
 * The prefill ledger of a trajectory, from its calls in order. A sequential call that follows
 * thread calls continues after the join of the block those threads started (the lowest block
 * number among them: nested blocks are numbered after the block holding them).
 */
export function prefillLedger(t: Pick<Trajectory, 'calls'>): PrefillLedger {
  const phases = { sequential: emptyTally(), threadStarts: emptyTally(), afterJoin: emptyTally() };
  const joins: JoinPrefill[] = [];
  const calls: CallPrefill[] = [];
  const started = new Set<string>();
  /** The top-level block of the thread calls since the last sequential call. */
  let joined: number | undefined;
  for (const c of t.calls) {
    let phase: PrefillPhase;
    if (c.role.kind === 'thread') {
      const id = `${c.role.block}/${c.role.thread}`;
      phase = started.has(id) ? 'afterJoin' : 'threadStarts';
      started.add(id);
      joined = Math.min(joined ?? Infinity, c.role.block);
    } else {
      phase = joined === undefined ? 'sequential' : 'afterJoin';
      if (joined !== undefined)
        joins.push({ block: joined, promptTokens: c.usage.promptTokens, cachedPromptTokens: cachedOf(c) });
      joined = undefined;
    }
    const line = { call: c.index, phase, promptTokens: c.usage.promptTokens, cachedPromptTokens: cachedOf(c) };
    calls.push(line);
    addTally(phases[phase], { calls: 1, promptTokens: line.promptTokens, cachedPromptTokens: line.cachedPromptTokens });
  }
  return { phases, joins, calls };
}
