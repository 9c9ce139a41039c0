import type { GeneratedChoice, Generation } from './generate.js';

/**
 * OpenAI's response objects for the two generation endpoints. Each choice also carries vLLM's
 * non-standard `stop_reason` and `token_ids`; in a stream they ride on each choice's last chunk.
 */
export interface ResponseShape {
  idPrefix: string;
  object: 'text_completion' | 'chat.completion';
  chunkObject: 'text_completion' | 'chat.completion.chunk';
  /** A choice of the full (non-streamed) response. */
  choice(c: GeneratedChoice, withIds: boolean): object;
  /** A stream's first chunk for a choice, when the shape has one (chat's role delta). */
  opening?(index: number): object;
  delta(index: number, text: string): object;
  /** A stream's last chunk for a choice: the held-back rest of its text and how it ended. */
  last(c: GeneratedChoice, rest: string, withIds: boolean): object;
}

function ending(c: GeneratedChoice, withIds: boolean) {
  return { finish_reason: c.finishReason, stop_reason: c.stopReason, ...(withIds ? { token_ids: c.tokenIds } : {}) };
}

export const completionShape: ResponseShape = {
  idPrefix: 'cmpl-',
  object: 'text_completion',
  chunkObject: 'text_completion',
  choice: (c, withIds) => ({ index: c.index, text: c.text, logprobs: null, ...ending(c, withIds) }),
  delta: (index, text) => ({ index, text, logprobs: null, finish_reason: null }),
  last: (c, rest, withIds) => ({ index: c.index, text: rest, logprobs: null, ...ending(c, withIds) }),
};

export const chatShape: ResponseShape = {
  idPrefix: 'chatcmpl-',
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  choice: (c, withIds) => ({
    index: c.index,
    message: { role: 'assistant', content: c.text, refusal: null },
    logprobs: null,
    ...ending(c, withIds),
  }),
  opening: (index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }),
  delta: (index, text) => ({ index, delta: { content: text }, logprobs: null, finish_reason: null }),
  last: (c, rest, withIds) => ({
    index: c.index,
    delta: rest ? { content: rest } : {},
    logprobs: null,
    ...ending(c, withIds),
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
