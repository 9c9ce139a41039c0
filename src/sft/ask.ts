/**
 * Asking an LLM for an answer that must pass a check: on a bad answer the conversation goes on
 * with the answer and what was wrong with it, so every attempt is a new request (and the cache
 * replays the whole exchange on a rerun).
 */
import type { ChatMessage } from '../engine/types.js';
import { loadPrompt } from '../orchestrator/prompt.js';
import type { ChatModel } from './llm.js';

/** One request and its answer, as recorded in an item's trace. */
export interface Exchange {
  attempt: number;
  key: string;
  cached: boolean;
  content: string;
  /** Why the answer was not used. */
  error?: string;
}

/** The outcome of askChecked: the checked value, or the last error, with every exchange made. */
export type AskResult<T> =
  { ok: true; value: T; exchanges: Exchange[] } | { ok: false; error: string; exchanges: Exchange[] };

/**
 * Send `messages`; `read` turns an answer into a value or throws saying what is wrong. At most
 * `attempts` requests. Errors of the endpoint itself (after the client's retries) are thrown.
 */
export async function askChecked<T>(
  model: ChatModel,
  messages: readonly ChatMessage[],
  read: (content: string) => T,
  attempts: number,
  signal?: AbortSignal,
): Promise<AskResult<T>> {
  const conversation = [...messages];
  const exchanges: Exchange[] = [];
  let error = 'no attempt made';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const answer = await model.chat(conversation, signal);
    const exchange: Exchange = { attempt, key: answer.key, cached: answer.cached, content: answer.content };
    exchanges.push(exchange);
    try {
      return { ok: true, value: read(answer.content), exchanges };
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
      exchange.error = error;
    }
    if (attempt < attempts)
      conversation.push(
        { role: 'assistant', content: answer.content },
        { role: 'user', content: loadPrompt('sft-invalid-answer', { error }) },
      );
  }
  return { ok: false, error: `no usable answer after ${attempts} attempt(s): ${error}`, exchanges };
}

/** A zod-style check as an error message (the first few issues, with their paths). */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}
