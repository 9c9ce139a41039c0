/**
 * A trajectory's engine calls, expanded to what a trainer needs: the full context each call saw
 * and the tokens it generated. Works on a live Trajectory and on a stored rollout row alike.
 */
import type { FinishReason } from '../src/engine/types.js';
import { callContextIds, type Call, type CallRole } from '../src/orchestrator/trajectory.js';
import { trieFromCalls, type TokenTrie } from '../src/trie/index.js';

/** The parts of a trajectory that locate its calls' contexts. */
export interface CallSource {
  promptIds: readonly number[];
  /** The joined completion ids (no EOS). */
  ids: readonly number[];
  calls: readonly Pick<Call, 'role' | 'prefixLength' | 'suffixIds' | 'completionIds' | 'finishReason'>[];
}

/** One call as a training row sees it. */
export interface ExpandedCall {
  role: CallRole;
  /** Everything the call was conditioned on: prompt, the trajectory so far, its own suffix. */
  contextIds: number[];
  /** What the call generated (plus the EOS id when asked for and the call ended on EOS). */
  completionIds: number[];
  finishReason: FinishReason;
}

/** How expandCalls writes each call's completion (the EOS id it appends to calls that ended on EOS). */
export interface ExpandOptions {
  /**
   * Append this id to the completion of every call that ended on EOS. Engines drop the EOS
   * token from their ids; a policy-gradient row should keep it, or stopping is never trained.
   */
  eosId?: number | null;
}

/** The context ids of one call of `source`. */
export function contextIdsOf(
  source: Pick<CallSource, 'promptIds' | 'ids'>,
  call: Pick<Call, 'prefixLength' | 'suffixIds'>,
): number[] {
  return callContextIds(source, call);
}

/** Every call of a trajectory (or stored row), in call order, with its full context. */
export function expandCalls(source: CallSource, options: ExpandOptions = {}): ExpandedCall[] {
  const eos = options.eosId ?? null;
  return source.calls.map((call) => ({
    role: call.role,
    contextIds: contextIdsOf(source, call),
    completionIds: eos !== null && call.finishReason === 'eos' ? [...call.completionIds, eos] : [...call.completionIds],
    finishReason: call.finishReason,
  }));
}

/**
 * The merged trie of a trajectory's calls (the reference RL packing): shared context prefixes
 * merge, and a token is trained where some call generated it.
 */
export function callTrie(source: CallSource, options: ExpandOptions = {}): TokenTrie {
  return trieFromCalls(expandCalls(source, options));
}
