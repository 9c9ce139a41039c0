import type { CompletionResult, FinishReason, Tokenizer } from './types.js';

/** A result of an engine that decodes locally: its text from the ids it sampled, counts from the engine. */
export function decodedResult(
  tokenizer: Tokenizer,
  ids: number[],
  finishReason: FinishReason,
  matchedStop: string | undefined,
  o: { promptTokens: number; cachedPromptTokens: number; prefillMs: number; startMs: number },
): CompletionResult {
  return {
    text: tokenizer.decode(ids),
    ids,
    finishReason,
    ...(matchedStop !== undefined ? { matchedStop } : {}),
    usage: {
      promptTokens: o.promptTokens,
      completionTokens: ids.length,
      cachedPromptTokens: o.cachedPromptTokens,
      prefillMs: o.prefillMs,
      source: 'engine',
    },
    startMs: o.startMs,
    endMs: Date.now(),
  };
}
