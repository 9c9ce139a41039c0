import { deriveSeed } from '../internal/random.js';
import type { CompletionRequest, CompletionResult, Engine } from './types.js';

type SiblingRequest = Parameters<Engine['completeSiblings']>[2];

/**
 * How many tokens of each sibling are kept when their tokens are handed out in lockstep: one
 * token per unfinished sibling per step, siblings in index order, until `take(i, k)` (may
 * sibling `i` have its `k`-th token?) refuses one; then every sibling stops. This is how the
 * embedded engine spends a shared budget while decoding its batch, so applying it afterwards to
 * siblings that ran separately (concurrent HTTP requests) gives the same tokens.
 */
export function lockstepShares(lengths: readonly number[], take: (i: number, k: number) => boolean): number[] {
  const got = lengths.map(() => 0);
  for (let live = true; live;) {
    live = false;
    for (let i = 0; i < lengths.length; i++) {
      if (got[i]! >= lengths[i]!) continue;
      if (!take(i, got[i]! + 1)) return got;
      got[i]!++;
      live = true;
    }
  }
  return got;
}

/** The shares of siblings of these lengths under a budget of `total` tokens shared in lockstep. */
export function shareBudget(lengths: readonly number[], total: number): number[] {
  let spent = 0;
  return lockstepShares(lengths, () => (spent < total ? (spent++, true) : false));
}

/**
 * A result cut to its first `keep` tokens: a cut result ends by `length` (its stop or EOS was
 * never reached). A result that keeps all its tokens is returned as is.
 */
export function cutResult(
  r: CompletionResult,
  keep: number,
  decode: (ids: readonly number[]) => string,
): CompletionResult {
  if (keep >= r.ids.length) return r;
  const ids = r.ids.slice(0, keep);
  const { matchedStop: _, ...rest } = r;
  return {
    ...rest,
    ids,
    text: decode(ids),
    finishReason: 'length',
    usage: { ...r.usage, completionTokens: ids.length },
  };
}

/**
 * The seed of sibling `i`: its own from `seeds` when given, else derived from the shared
 * `seed` (one seed for all siblings would make every thread the same text). Unseeded stays unseeded.
 */
export function siblingSeed(request: Pick<SiblingRequest, 'seed' | 'seeds'>, i: number): number | undefined {
  const own = request.seeds?.[i];
  if (own !== undefined) return own;
  if (request.seed === undefined) return undefined;
  return deriveSeed(request.seed, i);
}

/** The sampling options of sibling `i`: the request's, with its own seed (see siblingSeed). */
export function siblingSampling<R extends Pick<SiblingRequest, 'seed' | 'seeds'>>(request: R, i: number): R {
  const seed = siblingSeed(request, i);
  return { ...request, ...(seed !== undefined ? { seed } : {}) };
}

/**
 * `completeSiblings` for engines that can only run single completions: one concurrent
 * `complete` per suffix on `prefix + suffix`, each with its own seed, each capped by the whole
 * `maxTokens`. A request cannot be stopped when its siblings use up a shared `maxTotalTokens`,
 * so that budget is applied when all are back, in lockstep: the tokens the embedded engine
 * would have kept. A sibling's text is passed to `onDelta` once it is known to be kept (at once
 * when it is within the share every sibling is sure of). When one fails, the others are
 * cancelled (their work would be thrown away) and the failure is rethrown.
 */
export async function completeAsConcurrentCalls(
  complete: (request: CompletionRequest) => Promise<CompletionResult>,
  decode: (ids: readonly number[]) => string,
  prefix: readonly number[],
  suffixes: readonly (readonly number[])[],
  request: SiblingRequest,
): Promise<CompletionResult[]> {
  if (suffixes.length === 0) return [];
  const cancel = new AbortController();
  const signal = request.signal ? AbortSignal.any([request.signal, cancel.signal]) : cancel.signal;
  const total = request.maxTotalTokens;
  // One token over the shared budget tells "ends with EOS right at the budget" from "cut by it".
  const maxTokens = Math.min(request.maxTokens, total === undefined ? Infinity : Math.max(0, total) + 1);
  // Every sibling keeps at least this many tokens whatever the others do.
  const sure = total === undefined ? Infinity : Math.floor(total / suffixes.length);
  const onDelta = request.onDelta;
  const told = suffixes.map(() => false);
  const calls = suffixes.map(async (suffix, i): Promise<CompletionResult> => {
    const prompt = [...prefix, ...suffix];
    if (maxTokens <= 0) {
      const now = Date.now();
      return {
        text: '',
        ids: [],
        finishReason: 'length',
        usage: { promptTokens: prompt.length, completionTokens: 0, source: 'tokenizer' },
        startMs: now,
        endMs: now,
      };
    }
    const seed = siblingSeed(request, i);
    const affinity = request.affinities?.[i] ?? request.affinity;
    try {
      const r = await complete({
        prompt,
        maxTokens,
        ...(request.stop ? { stop: request.stop } : {}),
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(request.topP !== undefined ? { topP: request.topP } : {}),
        ...(seed !== undefined ? { seed } : {}),
        ...(affinity ? { affinity } : {}),
        signal,
        ...(onDelta && total === undefined ? { onDelta: (d: string) => onDelta(i, d) } : {}),
      });
      if (onDelta && total !== undefined && r.ids.length <= sure) {
        told[i] = true;
        if (r.text) onDelta(i, r.text);
      }
      return r;
    } catch (err) {
      cancel.abort();
      throw err;
    }
  });
  const results = await Promise.all(calls);
  if (total === undefined) return results;
  const shares = shareBudget(
    results.map((r) => r.ids.length),
    total,
  );
  return results.map((r, i) => {
    const kept = cutResult(r, shares[i]!, decode);
    if (onDelta && !told[i] && kept.text) onDelta(i, kept.text);
    return kept;
  });
}
