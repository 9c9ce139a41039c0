import { deriveSeed } from '../internal/random.js';
import type { CompletionRequest, CompletionResult, Engine, SamplingOptions } from './types.js';

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

/** The sampling a request sets, seed aside (each sibling gets its own). */
export function samplingOf(r: SamplingOptions): Omit<SamplingOptions, 'seed'> {
  const out: Omit<SamplingOptions, 'seed'> = {};
  for (const k of [
    'temperature',
    'topP',
    'topK',
    'minP',
    'repetitionPenalty',
    'presencePenalty',
    'frequencyPenalty',
  ] as const)
    if (r[k] !== undefined) out[k] = r[k];
  return out;
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
 * Which of the streamed pieces of siblings that run separately may be passed on before they
 * all end, under a budget they share in lockstep (see lockstepShares): token k of sibling i is
 * kept for sure once, counting every unfinished sibling as running to its cap, it is still
 * handed out within the budget. Pieces are passed on whole, once every id they were decoded
 * from is sure; a sibling whose pieces come without their ids waits for the end.
 */
class SureShares {
  private readonly got: number[];
  private readonly told: number[];
  private readonly ends: (number | undefined)[];
  private readonly pending: { text: string; upTo: number }[][];
  private readonly uncounted: boolean[];
  private readonly toldTexts: string[];

  constructor(
    n: number,
    private readonly total: number,
    private readonly cap: number,
    private readonly onDelta: (index: number, delta: string) => void,
  ) {
    this.got = new Array<number>(n).fill(0);
    this.told = new Array<number>(n).fill(0);
    this.ends = new Array<number | undefined>(n).fill(undefined);
    this.pending = Array.from({ length: n }, () => []);
    this.uncounted = new Array<boolean>(n).fill(false);
    this.toldTexts = new Array<string>(n).fill('');
  }

  /**
   * A piece of sibling i, decoded from `ids`. Text can lag its ids but never lead them, so text
   * that comes without ids means the count is unknown (a server that sends the ids late).
   */
  piece(i: number, text: string, ids: readonly number[] | undefined): void {
    if (ids === undefined || (ids.length === 0 && text !== '')) this.uncounted[i] = true;
    else this.got[i]! += ids.length;
    if (text) this.pending[i]!.push({ text, upTo: this.got[i]! });
    this.release(i);
  }

  /** Sibling i ended with `length` tokens: the others' sure shares may grow. */
  end(i: number, length: number): void {
    this.ends[i] = length;
    for (let j = 0; j < this.got.length; j++) this.release(j);
  }

  /** The text passed on for sibling i so far. */
  toldText(i: number): string {
    return this.toldTexts[i]!;
  }

  private release(i: number): void {
    const queue = this.pending[i]!;
    if (this.uncounted[i] || queue.length === 0) return;
    let k = this.told[i]!;
    while (k < queue[queue.length - 1]!.upTo && this.sure(i, k + 1)) k++;
    this.told[i] = k;
    while (queue.length > 0 && queue[0]!.upTo <= k) {
      const p = queue.shift()!;
      this.toldTexts[i] += p.text;
      this.onDelta(i, p.text);
    }
  }

  /** Is token k of sibling i handed out within the budget, whatever the unfinished siblings do? */
  private sure(i: number, k: number): boolean {
    let position = 1;
    for (let j = 0; j < this.got.length; j++) {
      const most = j === i ? Infinity : (this.ends[j] ?? this.cap);
      position += Math.min(most, k - 1) + (j < i && most >= k ? 1 : 0);
      if (position > this.total) return false;
    }
    return true;
  }
}

/**
 * `completeSiblings` for engines that can only run single completions: one concurrent
 * `complete` per suffix on `prefix + suffix`, each with its own seed, each capped by the whole
 * `maxTokens`. A request cannot be stopped when its siblings use up a shared `maxTotalTokens`,
 * so that budget is applied when all are back, in lockstep: the tokens the embedded engine
 * would have kept. A sibling's streamed pieces are passed to `onDelta` as soon as they are
 * sure to be kept (see SureShares), the rest of its kept text when all are back. When one
 * fails, the others are cancelled (their work would be thrown away) and the failure is rethrown.
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
  const onDelta = request.onDelta;
  const shares =
    onDelta && total !== undefined ? new SureShares(suffixes.length, total, maxTokens, onDelta) : undefined;
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
        ...samplingOf(request),
        ...(seed !== undefined ? { seed } : {}),
        ...(affinity ? { affinity } : {}),
        signal,
        ...(shares
          ? { onDelta: (d: string, ids?: readonly number[]) => shares.piece(i, d, ids) }
          : onDelta
            ? { onDelta: (d: string, ids?: readonly number[]) => onDelta(i, d, ids) }
            : {}),
      });
      shares?.end(i, r.ids.length);
      return r;
    } catch (err) {
      cancel.abort();
      throw err;
    }
  });
  const results = await Promise.all(calls);
  if (total === undefined) return results;
  const kept = shareBudget(
    results.map((r) => r.ids.length),
    total,
  );
  return results.map((r, i) => {
    const cut = cutResult(r, kept[i]!, decode);
    const told = shares?.toldText(i) ?? '';
    if (onDelta && cut.text.startsWith(told) && cut.text.length > told.length) onDelta(i, cut.text.slice(told.length));
    return cut;
  });
}
