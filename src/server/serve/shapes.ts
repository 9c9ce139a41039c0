import type { GeneratedChoice, Generation } from './generate.js';

/**
 * OpenAI's response objects for the two generation endpoints. Each choice also carries vLLM's
 * non-standard `stop_reason` and `token_ids`; in a stream, as in vLLM's, every chunk carries the
 * ids sampled since the previous one (they join to the choice's ids) and the last one the stop.
 */
export interface ResponseShape {
  idPrefix: string;
  object: 'text_completion' | 'chat.completion';
  chunkObject: 'text_completion' | 'chat.completion.chunk';
  /** A choice of the full (non-streamed) response. */
  choice(c: GeneratedChoice, withIds: boolean): object;
  /** A stream's first chunk for a choice, when the shape has one (chat's role delta). */
  opening?(index: number): object;
  /** A stream's chunk of new text; `ids`: the ids sampled since the previous chunk, when asked for. */
  delta(index: number, text: string, ids?: readonly number[]): object;
  /** A stream's last chunk for a choice: the held-back rest of its text and ids, and how it ended. */
  last(c: GeneratedChoice, rest: string, restIds?: readonly number[]): object;
}

function ending(c: GeneratedChoice, ids: readonly number[] | undefined) {
  return { finish_reason: c.finishReason, stop_reason: c.stopReason, ...(ids ? { token_ids: ids } : {}) };
}

const withIds = (ids: readonly number[] | undefined) => (ids ? { token_ids: ids } : {});

export const completionShape: ResponseShape = {
  idPrefix: 'cmpl-',
  object: 'text_completion',
  chunkObject: 'text_completion',
  choice: (c, withIds) => ({
    index: c.index,
    text: c.text,
    logprobs: null,
    ...ending(c, withIds ? c.tokenIds : undefined),
  }),
  delta: (index, text, ids) => ({ index, text, logprobs: null, finish_reason: null, ...withIds(ids) }),
  last: (c, rest, restIds) => ({ index: c.index, text: rest, logprobs: null, ...ending(c, restIds) }),
};

export const chatShape: ResponseShape = {
  idPrefix: 'chatcmpl-',
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  choice: (c, withIds) => ({
    index: c.index,
    message: { role: 'assistant', content: c.text, refusal: null },
    logprobs: null,
    ...ending(c, withIds ? c.tokenIds : undefined),
  }),
  opening: (index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }),
  delta: (index, text, ids) => ({
    index,
    delta: { content: text },
    logprobs: null,
    finish_reason: null,
    ...withIds(ids),
  }),
  last: (c, rest, restIds) => ({
    index: c.index,
    delta: rest ? { content: rest } : {},
    logprobs: null,
    ...ending(c, restIds),
  }),
};

export function usageBody(g: Pick<Generation, 'promptTokens' | 'completionTokens' | 'cachedPromptTokens'>) {
  return {
    prompt_tokens: g.promptTokens,
    completion_tokens: g.completionTokens,
    total_tokens: g.promptTokens + g.completionTokens,
    prompt_tokens_details: { cached_tokens: g.cachedPromptTokens },
  };
}
