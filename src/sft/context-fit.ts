/**
 * Stage 1 sends whole reasoning traces to the LLM, so a model with a short context fails every
 * item. This checks up front, from the context the endpoint reports, that the longest request fits.
 */
import { stepsPrompt } from './steps.js';
import type { Trace } from './traces.js';
import { ThreadweaverError } from '../errors.js';

/** Characters per token assumed for the estimate (English text under a BPE tokenizer: about 4). */
export const CHARS_PER_TOKEN = 4;
/** Room for the step-1 answer (a JSON step plan) when no answer limit is set. */
export const DEFAULT_ANSWER_TOKENS = 1024;

/** Whether stage 1's longest request fits the LLM's context, with the estimate behind the verdict. */
export interface PromptFit {
  /** The trace with the longest step-1 request. */
  longestId: string;
  /** Its estimated tokens. */
  promptTokens: number;
  answerTokens: number;
  contextLength: number;
  fits: boolean;
}

/** Whether the longest step-1 request, plus room for its answer, fits `contextLength`. */
export function promptFit(
  traces: readonly Trace[],
  contextLength: number,
  answerTokens = DEFAULT_ANSWER_TOKENS,
): PromptFit | undefined {
  let longest: { id: string; chars: number } | undefined;
  for (const t of traces) {
    const chars = stepsPrompt(t.problem, t.reasoning.split('\n')).length;
    if (!longest || chars > longest.chars) longest = { id: t.id, chars };
  }
  if (!longest) return undefined;
  const promptTokens = Math.ceil(longest.chars / CHARS_PER_TOKEN);
  return {
    longestId: longest.id,
    promptTokens,
    answerTokens,
    contextLength,
    fits: promptTokens + answerTokens <= contextLength,
  };
}

/** The LLM's context cannot hold stage 1's requests; the message says what to use instead. */
export class ContextTooSmallError extends ThreadweaverError {
  override name = 'ContextTooSmallError';
  constructor(
    readonly fit: PromptFit,
    model: string,
  ) {
    const n = (x: number) => x.toLocaleString('en-US');
    super(
      `the LLM '${model}' has a context of ${n(fit.contextLength)} tokens, but stage 1's longest request (step 1 of ${fit.longestId}) ` +
        `is about ${n(fit.promptTokens)} tokens, plus ${n(fit.answerTokens)} for the answer. Stage 1 rewrites whole reasoning traces: ` +
        `point it at a general instruction-following chat model with a long context (32k tokens or more, e.g. an instruct ` +
        `or reasoning model served by vLLM or SGLang, or a hosted API), not a trajectory model such as the bundled ` +
        `tiny-threadweaver (1,024 tokens). If the endpoint's real context is larger than it reports, say so with --llm-context-length.`,
    );
  }
}
