import { deriveSeed } from './sampling.js';
import type { CompletionRequest, CompletionResult, Engine } from './types.js';

type SiblingRequest = Parameters<Engine['completeSiblings']>[2];

/**
 * Split a budget shared by `n` siblings into per-sibling caps that add up to at most `total`
 * (the first `total % n` get one more). Without a way to stop a running request when its
 * siblings use up the pool, a fixed split is the only cap that can never overshoot.
 */
export function splitBudget(total: number, n: number): number[] {
  const t = Math.max(0, Math.floor(total));
  const base = Math.floor(t / n);
  return Array.from({ length: n }, (_, i) => base + (i < t % n ? 1 : 0));
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

/**
 * `completeSiblings` for engines that can only run single completions: one concurrent
 * `complete` per suffix on `prefix + suffix`, each with its own seed and cap. When one fails,
 * the others are cancelled (their work would be thrown away) and the failure is rethrown.
 */
export async function completeAsConcurrentCalls(
  complete: (request: CompletionRequest) => Promise<CompletionResult>,
  prefix: readonly number[],
  suffixes: readonly (readonly number[])[],
  request: SiblingRequest,
): Promise<CompletionResult[]> {
  if (suffixes.length === 0) return [];
  const caps = request.maxTotalTokens === undefined ? undefined : splitBudget(request.maxTotalTokens, suffixes.length);
  const cancel = new AbortController();
  const signal = request.signal ? AbortSignal.any([request.signal, cancel.signal]) : cancel.signal;
  const calls = suffixes.map(async (suffix, i): Promise<CompletionResult> => {
    const maxTokens = Math.min(request.maxTokens, caps?.[i] ?? Infinity);
    const prompt = [...prefix, ...suffix];
    if (maxTokens <= 0) {
      const now = Date.now();
      return { text: '', ids: [], finishReason: 'length', usage: { promptTokens: prompt.length, completionTokens: 0, source: 'tokenizer' }, startMs: now, endMs: now };
    }
    const seed = siblingSeed(request, i);
    try {
      return await complete({
        prompt,
        maxTokens,
        ...(request.stop ? { stop: request.stop } : {}),
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(request.topP !== undefined ? { topP: request.topP } : {}),
        ...(seed !== undefined ? { seed } : {}),
        signal,
        ...(request.onDelta ? { onDelta: (d: string) => request.onDelta!(i, d) } : {}),
      });
    } catch (err) {
      cancel.abort();
      throw err;
    }
  });
  return Promise.all(calls);
}
