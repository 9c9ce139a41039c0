/** One chat message, as chat templates take them. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** How a tokenizer's chat template renders messages. */
export interface ChatTemplateOptions {
  /** End with the assistant header (default true). */
  addGenerationPrompt?: boolean;
  /** More variables for the template (Qwen3's `enable_thinking`), as `chat_template_kwargs`. */
  kwargs?: Record<string, unknown>;
}

/** Token-level access an engine gives the controller. */
export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  count(text: string): number;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  /** Ids that end generation (e.g. `<|im_end|>`). */
  readonly eosIds: readonly number[];
  /** The id of `text` when it is exactly one token, else undefined. */
  singleTokenId(text: string): number | undefined;
}

/**
 * Why a completion ended: a stop string matched (`stop`), EOS, the token limit (`length`), or the
 * caller's signal (`abort`).
 */
export type FinishReason = 'stop' | 'eos' | 'length' | 'abort';

/** How tokens are sampled: temperature, top-p and seed (greedy when the temperature is unset or near 0). */
export interface SamplingOptions {
  /** ≥ 0. Below 1e-5 (including 0 and undefined) decoding is greedy, as in vLLM. */
  temperature?: number;
  /** In (0, 1]; default 1. */
  topP?: number;
  /**
   * Any safe integer (|seed| < 2^53); all of its bits select the stream (its 64-bit two's
   * complement seeds the generator through SplitMix64), so 0 and 2^32 are different seeds.
   * Derived seeds (per call, per thread) come from `deriveSeed`. Unset: a fresh random stream.
   */
  seed?: number;
  /** Keep the k likeliest tokens (vLLM's `top_k`); -1 or 0: all. Only engines listing it in `samplingControls` honour it. */
  topK?: number;
  /** Drop tokens less likely than `minP` × the likeliest one's probability (vLLM's `min_p`); 0: none. */
  minP?: number;
  /** vLLM's `repetition_penalty` (1: none). */
  repetitionPenalty?: number;
  /** OpenAI's `presence_penalty` (0: none). */
  presencePenalty?: number;
  /** OpenAI's `frequency_penalty` (0: none). */
  frequencyPenalty?: number;
}

/** The sampling controls beyond temperature, top-p and seed, which only some engines honour. */
export type SamplingControl = 'topK' | 'minP' | 'repetitionPenalty' | 'presencePenalty' | 'frequencyPenalty';

/** Values of sampling controls (absent: the engine's default). */
export type SamplingControls = Partial<Pick<SamplingOptions, SamplingControl>>;

/**
 * Which sample a call belongs to, for routers in front of several servers: every call of one
 * sample carries the same key, so a router that hashes or pins on it keeps the sample's growing
 * context on one server's prefix cache. Engines that run in-process ignore it.
 */
export interface CallAffinity {
  /** The sample's key (printable ASCII, no spaces). */
  key: string;
  /** A thread's call: the block it forked from (its index in the trajectory), for routers that record lineage. */
  block?: number;
}

/** One completion asked of an engine: the prompt, its token budget and stops, sampling, and the cache scope. */
export interface CompletionRequest extends SamplingOptions {
  /** Raw prompt: text, or token ids (ids avoid re-tokenizing generated text). */
  prompt: string | readonly number[];
  maxTokens: number;
  /** Stop strings; the matched stop is kept at the end of `text`/`ids`. */
  stop?: readonly string[];
  signal?: AbortSignal;
  /**
   * Cached state this call leaves behind belongs to this scope (the controller uses one per
   * trajectory) and is dropped by `releaseCache(scope)`. A cache never changes the tokens an
   * engine generates, only how fast; any call may reuse any cached prefix.
   */
  cacheScope?: string;
  /**
   * Called with each decoded piece as it is generated; the pieces join to the result's `text`
   * (an engine that decodes token by token may send half a character as U+FFFD). `ids`, when
   * the engine knows them, are the ids sampled since the previous piece: a piece's text can lag
   * its ids (half a character waits for the rest) but never runs ahead of them.
   */
  onDelta?: (delta: string, ids?: readonly number[]) => void;
  /** The sample this call belongs to (see CallAffinity). */
  affinity?: CallAffinity;
}

/** Token counts (and prefill time) of one completion, and where the counts came from. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  /**
   * Prompt tokens served from a prefix cache: the engine's own hits, or what the server reported
   * (`usage.prompt_tokens_details.cached_tokens`); null when a server did not report it, absent
   * when the engine cannot know.
   */
  cachedPromptTokens?: number | null;
  /**
   * Time from the call's start until its first token could be sampled: the prompt's prefill
   * (cache lookup included). Only engines that see it report it (the embedded engine; a remote
   * server's prefill is hidden in its first chunk).
   */
  prefillMs?: number;
  /** Where the counts came from: the server's `usage`, or our tokenizer. */
  source: 'engine' | 'server' | 'tokenizer';
}

/** What an engine returns for one completion: its text and ids, why it ended, usage and timing. */
export interface CompletionResult {
  /** Generated text, including a matched stop, excluding an EOS token's text. */
  text: string;
  /** Generated ids as decoded (not re-tokenized), including the stop, excluding EOS. */
  ids: number[];
  finishReason: FinishReason;
  matchedStop?: string;
  usage: Usage;
  startMs: number;
  endMs: number;
}

/** Whether an engine can serve now: ok (with a detail), or not and why (a gateway's /health answers 503 with it). */
export type EngineHealth = { ok: true; detail?: string } | { ok: false; reason: string };

/**
 * An autoregressive engine. Engines know nothing of trajectory tags beyond the stop strings
 * they are handed.
 *
 * Seeds: a seed names one `createRng` stream (src/random.ts), the same on every engine that
 * samples locally. A stream made from another seed (sibling i, a server's choice i, a call or
 * thread of a run, a sample of an eval) always comes from `deriveSeed(seed, ...keys)`, never from
 * arithmetic on the seed, so derived seeds never collide across bases and stay valid seeds.
 */
export interface Engine {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  /** Max prompt + completion tokens. */
  readonly contextLength: number;
  /** The sampling controls it honours beyond temperature, top-p and seed (none when absent). */
  readonly samplingControls?: readonly SamplingControl[];
  complete(request: CompletionRequest): Promise<CompletionResult>;
  /**
   * Continue `prefix + suffixes[i]` for every i, as siblings that share `prefix`. Per-sibling
   * sampling seeds come from `seeds` (same length as suffixes) when given, else sibling i uses
   * `deriveSeed(seed, i)` (see siblingSeed): one seed for all would make every sibling the same text.
   */
  completeSiblings(
    prefix: readonly number[],
    suffixes: readonly (readonly number[])[],
    request: Omit<CompletionRequest, 'prompt' | 'onDelta'> & {
      seeds?: readonly (number | undefined)[];
      /** Per sibling, over `affinity` (a round's threads may belong to different blocks). */
      affinities?: readonly (CallAffinity | undefined)[];
      /**
       * A budget all siblings share, spent in lockstep (one token per unfinished sibling per
       * step, in index order; see lockstepShares): once spent, the rest end by `length`. An EOS
       * costs nothing. Engines that run siblings separately cut their results to it afterwards.
       */
      maxTotalTokens?: number;
      onDelta?: (index: number, delta: string, ids?: readonly number[]) => void;
    },
  ): Promise<CompletionResult[]>;
  /** Forget cached state of a scope (a finished trajectory). */
  releaseCache?(scope: string): void;
  /**
   * Whether it can serve now (engines on servers ask them; absent: always). The reason says
   * what is wrong without naming the servers' addresses: it may reach a client.
   */
  health?(): Promise<EngineHealth>;
  close?(): Promise<void>;
}
