/**
 * The LLM that rewrites traces: chat completions on any OpenAI-compatible endpoint through the
 * `openai` package, with a concurrency limit, the client's retries, and the on-disk answer cache.
 */
import OpenAI from 'openai';
import { listServedModels } from '../engine/remote/openai.js';
import type { ChatMessage } from '../engine/types.js';
import { AnswerCache, requestKey } from './cache.js';
import { createLimiter, type Limiter } from './limiter.js';

/** An LLM's answer to one chat request, with its cache key and whether the cache supplied it. */
export interface ChatAnswer {
  content: string;
  /** The cache key of the request (also the name of its cache file). */
  key: string;
  /** True when the answer came from the cache and nothing was sent. */
  cached: boolean;
  finishReason?: string;
  usage?: { promptTokens: number; completionTokens: number };
}

/** What the pipeline needs from an LLM. */
export interface ChatModel {
  readonly model: string;
  chat(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<ChatAnswer>;
  readonly counters: ChatCounters;
  /** The model's context length in tokens, when the endpoint tells (vLLM's `max_model_len`). */
  contextLength?(): Promise<number | undefined>;
}

/** Running counts of a ChatModel's requests (sent, answered from the cache) and tokens. */
export interface ChatCounters {
  /** Requests that reached the endpoint. */
  sent: number;
  /** Requests answered from the cache. */
  cacheHits: number;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Options of OpenAIChatModel: the endpoint and model, concurrency, retries, timeout, the cache
 * folder and the request parameters.
 */
export interface OpenAIChatOptions {
  /** e.g. `http://127.0.0.1:8000/v1`. */
  baseURL: string;
  model: string;
  /** Default: `$OPENAI_API_KEY`, else a placeholder (local servers rarely check it). */
  apiKey?: string | undefined;
  /** Requests in flight at once. Default 8. */
  concurrency?: number | undefined;
  /** Retries on connection errors, 408/409/429 and 5xx, with backoff (the client's own). Default 3. */
  maxRetries?: number | undefined;
  /** Per-request timeout. Default 10 minutes. */
  timeoutMs?: number | undefined;
  /** The answer cache folder; none when undefined. */
  cacheDir?: string | undefined;
  /** Sent only when set (some reasoning models accept only their default). */
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  /** Ask for `response_format: json_object` (the prompts ask for JSON either way). */
  jsonMode?: boolean | undefined;
  reasoningEffort?: 'minimal' | 'low' | 'medium' | 'high' | undefined;
}

/**
 * A ChatModel on any OpenAI-compatible chat endpoint, with a concurrency limit, the client's
 * retries and the answer cache. Identical requests in flight share one answer.
 */
export class OpenAIChatModel implements ChatModel {
  readonly model: string;
  readonly counters: ChatCounters = { sent: 0, cacheHits: 0, promptTokens: 0, completionTokens: 0 };
  private readonly client: OpenAI;
  private readonly cache: AnswerCache | undefined;
  private readonly limit: Limiter;
  private readonly inFlight = new Map<string, Promise<ChatAnswer>>();
  private readonly params: Record<string, unknown>;

  constructor(options: OpenAIChatOptions) {
    this.model = options.model;
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey ?? process.env.OPENAI_API_KEY ?? 'no-key',
      maxRetries: options.maxRetries ?? 3,
      timeout: options.timeoutMs ?? 600_000,
    });
    this.cache = options.cacheDir ? new AnswerCache(options.cacheDir) : undefined;
    this.limit = createLimiter(options.concurrency ?? 8);
    this.params = {
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.maxTokens !== undefined ? { max_completion_tokens: options.maxTokens } : {}),
      ...(options.jsonMode ? { response_format: { type: 'json_object' } } : {}),
      ...(options.reasoningEffort ? { reasoning_effort: options.reasoningEffort } : {}),
    };
  }

  /**
   * `GET /models`: the model's `max_model_len` (vLLM, SGLang, threadweaver serve); undefined when
   * the endpoint does not report it or has no model listing.
   */
  async contextLength(): Promise<number | undefined> {
    const served = await listServedModels(this.client).catch(() => []);
    return served.find((m) => m.id === this.model)?.maxModelLen;
  }

  chat(messages: readonly ChatMessage[], signal?: AbortSignal): Promise<ChatAnswer> {
    const request = {
      model: this.model,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      ...this.params,
    };
    const key = requestKey(request);
    // Identical requests in flight share one answer.
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.answer(key, request, signal).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async answer(
    key: string,
    request: { model: string; messages: ChatMessage[] },
    signal?: AbortSignal,
  ): Promise<ChatAnswer> {
    const hit = await this.cache?.get(key);
    if (hit) {
      this.counters.cacheHits++;
      return { content: hit.content, key, cached: true, ...(hit.usage ? { usage: hit.usage } : {}) };
    }
    const completion = await this.limit(() => {
      this.counters.sent++;
      return this.client.chat.completions.create(request as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal });
    });
    const choice = completion.choices?.[0];
    const content = choice?.message?.content ?? '';
    const usage = completion.usage
      ? { promptTokens: completion.usage.prompt_tokens, completionTokens: completion.usage.completion_tokens }
      : undefined;
    if (usage) {
      this.counters.promptTokens += usage.promptTokens;
      this.counters.completionTokens += usage.completionTokens;
    }
    // Every answer is kept, even a cut-off one: the guards handle it, and a rerun replays it.
    await this.cache?.put({ key, request, content, ...(usage ? { usage } : {}) });
    return {
      content,
      key,
      cached: false,
      ...(choice?.finish_reason ? { finishReason: choice.finish_reason } : {}),
      ...(usage ? { usage } : {}),
    };
  }
}
