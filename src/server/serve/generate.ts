import { HFTokenizer } from '../../engine/tokenizer.js';
import { deriveSeed } from '../../internal/random.js';
import { activeControls, NEUTRAL_SAMPLING } from '../../engine/sampling.js';
import type { CompletionResult, Engine, SamplingControl, SamplingControls, Tokenizer } from '../../engine/types.js';
import { badRequest } from '../http/errors.js';
import { contextTooLong } from './admission.js';
import { stripMatchedStop } from './stop-text.js';

/** What one request asks of the engine, validated against it. */
export interface GenerationPlan {
  promptIds: number[];
  maxTokens: number;
  stop: string[];
  n: number;
  /** Undefined: the engine's default. */
  temperature?: number | undefined;
  topP?: number | undefined;
  /** Per choice; distinct whenever a seed was given. */
  seeds: (number | undefined)[];
  /** Top-k, min-p and penalties, all honoured by the engine. */
  controls: SamplingControls;
}

/** A request's fields as its body gives them: absent (undefined) and null both ask for the default. */
export interface PlanInput {
  prompt: string | readonly number[];
  /** The body field the prompt came from, for error messages (`prompt` or `messages`). */
  promptParam: string;
  maxTokens?: number | null | undefined;
  /** The body field max tokens came from (`max_tokens` or `max_completion_tokens`). */
  maxTokensParam: string;
  stop?: string | readonly string[] | null | undefined;
  n?: number | null | undefined;
  temperature?: number | null | undefined;
  topP?: number | null | undefined;
  /** -1: a random seed, as vLLM reads it. */
  seed?: number | null | undefined;
  controls?: SamplingControls | undefined;
}

/** The body fields of the sampling controls. */
export const CONTROL_FIELDS: Readonly<Record<SamplingControl, string>> = {
  topK: 'top_k',
  minP: 'min_p',
  repetitionPenalty: 'repetition_penalty',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
};

type ControlBody = {
  [F in 'top_k' | 'min_p' | 'repetition_penalty' | 'presence_penalty' | 'frequency_penalty']?:
    number | null | undefined;
};

/** The sampling controls a body sets. */
export function controlsInput(body: ControlBody): SamplingControls {
  const out: SamplingControls = {};
  for (const [control, field] of Object.entries(CONTROL_FIELDS) as [SamplingControl, keyof ControlBody][]) {
    const v = body[field];
    if (v != null) out[control] = v;
  }
  return out;
}

/**
 * Refuse (400, naming the field) a control set to something other than its neutral value when
 * the engine cannot honour it; the neutral values pass (and are left out).
 */
export function honouredControls(engine: Engine, controls: SamplingControls): SamplingControls {
  const refused = activeControls(controls).find((c) => !engine.samplingControls?.includes(c));
  if (refused) {
    const field = CONTROL_FIELDS[refused];
    throw badRequest(
      `${field}: the engine behind this server cannot honour it; leave it out or at ${NEUTRAL_SAMPLING[refused].join(' or ')}`,
      field,
    );
  }
  const kept: SamplingControls = {};
  for (const c of activeControls(controls)) kept[c] = controls[c]!;
  return kept;
}

/** The sampling fields both endpoints' bodies share, as plan input. */
export function samplingInput(
  body: {
    stop?: string | string[] | null | undefined;
    n?: number | null | undefined;
    temperature?: number | null | undefined;
    top_p?: number | null | undefined;
    seed?: number | null | undefined;
  } & ControlBody,
): Pick<PlanInput, 'stop' | 'n' | 'temperature' | 'topP' | 'seed' | 'controls'> {
  return {
    stop: body.stop,
    n: body.n,
    temperature: body.temperature,
    topP: body.top_p,
    seed: body.seed,
    controls: controlsInput(body),
  };
}

/**
 * Tokenize and check a request: the prompt must be non-empty, made of known ids, and leave room
 * for at least one token; max tokens above `maxTokensLimit` is refused (400). A max tokens that
 * fits the limit but not the context left after the prompt is clamped to that room, as the
 * embedded engine does (the choice then ends with `length`).
 */
export function planGeneration(engine: Engine, maxTokensLimit: number, input: PlanInput): GenerationPlan {
  const promptIds = typeof input.prompt === 'string' ? engine.tokenizer.encode(input.prompt) : [...input.prompt];
  if (promptIds.length === 0)
    throw badRequest(`${input.promptParam}: the prompt is empty (it has no tokens)`, input.promptParam);
  const vocab = vocabularySize(engine.tokenizer);
  if (vocab !== undefined) {
    const bad = promptIds.findIndex((id) => id >= vocab);
    if (bad >= 0) {
      throw badRequest(
        `${input.promptParam}: token id ${promptIds[bad]} (position ${bad}) is outside the vocabulary of ${vocab} tokens`,
        input.promptParam,
      );
    }
  }
  const room = engine.contextLength - promptIds.length;
  if (room < 1) throw contextTooLong(engine.contextLength, promptIds.length, input.promptParam);
  if (input.maxTokens != null && input.maxTokens > maxTokensLimit) {
    throw badRequest(
      `${input.maxTokensParam}: ${input.maxTokens} is above this server's limit of ${maxTokensLimit}`,
      input.maxTokensParam,
    );
  }
  const controls = honouredControls(engine, input.controls ?? {});
  const n = input.n ?? 1;
  const seed = input.seed === -1 ? undefined : (input.seed ?? undefined);
  return {
    promptIds,
    maxTokens: Math.min(input.maxTokens ?? maxTokensLimit, maxTokensLimit, room),
    stop: input.stop == null ? [] : typeof input.stop === 'string' ? [input.stop] : [...input.stop],
    n,
    temperature: input.temperature ?? undefined,
    topP: input.topP ?? undefined,
    // Choice 0 samples with the request's seed (n = 1 is a plain seeded completion), choice i > 0
    // with deriveSeed(seed, i): reproducible per request, different across choices, always valid.
    seeds: Array.from({ length: n }, (_, i) => (seed === undefined ? undefined : i === 0 ? seed : deriveSeed(seed, i))),
    controls,
  };
}

const vocabularySizes = new WeakMap<HFTokenizer, number>();

/** The highest token id + 1 when the tokenizer can tell (the embedded engine's can). */
export function vocabularySize(tokenizer: Tokenizer): number | undefined {
  if (!(tokenizer instanceof HFTokenizer)) return undefined;
  let size = vocabularySizes.get(tokenizer);
  if (size === undefined) {
    size = 0;
    for (const id of tokenizer.inner.get_vocab().values()) size = Math.max(size, id + 1);
    vocabularySizes.set(tokenizer, size);
  }
  return size;
}

/** One finished choice, as the OpenAI shapes need it. */
export interface GeneratedChoice {
  index: number;
  /** The text without a matched stop string. */
  text: string;
  finishReason: 'stop' | 'length';
  /** The matched stop string; null for EOS and length (vLLM's `stop_reason`). */
  stopReason: string | null;
  /** Every sampled id, the stop's included, EOS excluded (the engine's `ids`). */
  tokenIds: number[];
}

export interface Generation {
  choices: GeneratedChoice[];
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens the engine's prefix cache served (null when the engine does not say). */
  cachedPromptTokens: number | null;
  /** True when the signal stopped any choice: the caller owns what that means. */
  aborted: boolean;
}

/**
 * Run a plan: one `complete` call for one choice; for several, one sibling batch that shares the
 * prompt's prefill (the last prompt token is each sibling's suffix, so every row has logits).
 */
export async function runGeneration(
  engine: Engine,
  plan: GenerationPlan,
  signal: AbortSignal,
  onDelta?: (index: number, delta: string, ids?: readonly number[]) => void,
): Promise<Generation> {
  const sampling = {
    maxTokens: plan.maxTokens,
    stop: plan.stop,
    signal,
    ...(plan.temperature !== undefined ? { temperature: plan.temperature } : {}),
    ...(plan.topP !== undefined ? { topP: plan.topP } : {}),
    ...plan.controls,
  };
  let results: CompletionResult[];
  if (plan.n === 1) {
    const seed = plan.seeds[0];
    results = [
      await engine.complete({
        ...sampling,
        prompt: plan.promptIds,
        ...(seed !== undefined ? { seed } : {}),
        ...(onDelta ? { onDelta: (d: string, ids?: readonly number[]) => onDelta(0, d, ids) } : {}),
      }),
    ];
  } else {
    const last = plan.promptIds[plan.promptIds.length - 1]!;
    results = await engine.completeSiblings(
      plan.promptIds.slice(0, -1),
      plan.seeds.map(() => [last]),
      { ...sampling, seeds: plan.seeds, ...(onDelta ? { onDelta } : {}) },
    );
  }
  return {
    choices: results.map((r, index) => ({
      index,
      text: r.finishReason === 'stop' ? stripMatchedStop(r.text, r.matchedStop) : r.text,
      finishReason: r.finishReason === 'length' ? 'length' : 'stop',
      stopReason: r.finishReason === 'stop' ? (r.matchedStop ?? null) : null,
      tokenIds: r.ids,
    })),
    promptTokens: plan.promptIds.length,
    completionTokens: results.reduce((s, r) => s + r.ids.length, 0),
    cachedPromptTokens: cachedTokens(results),
    aborted: results.some((r) => r.finishReason === 'abort'),
  };
}

/**
 * The prompt tokens a request had from the prefix cache: the engine's own count (the embedded
 * engine's hits; siblings share one prefix, so the largest), null when any result lacks one.
 */
function cachedTokens(results: readonly CompletionResult[]): number | null {
  const counts = results.map((r) => r.usage.cachedPromptTokens);
  return counts.every((c): c is number => typeof c === 'number') ? Math.max(0, ...counts) : null;
}
