import OpenAI from 'openai';
import type { CompletionCreateParamsNonStreaming } from 'openai/resources/completions';
import { z } from 'zod';
import { affinityFields, DEFAULT_AFFINITY_POLICY, type AffinityPolicy } from './affinity.js';
import { resolveModelSource } from '../model-source.js';
import { withoutChatTemplate } from '../plain-template.js';
import {
  readCompletionStream,
  StreamStop,
  type ChunkSink,
  type ServerChoice,
  type ServerCompletion,
} from './completion-stream.js';
import { classifyFailure, DEFAULT_RETRY_POLICY, withRetry, type FailureKind, type RetryPolicy } from './retry.js';
import { StreamedCall } from './streamed-call.js';
import { completionSchema, modelsSchema, reportedStop } from './wire.js';
import { completeAsConcurrentCalls } from '../siblings.js';
import { HFTokenizer, loadTokenizer } from '../tokenizer.js';
import type {
  CompletionRequest,
  CompletionResult,
  Engine,
  EngineHealth,
  FinishReason,
  SamplingControl,
  Tokenizer,
} from '../types.js';
import { EngineError } from '../errors.js';

export type { ServerChoice } from './completion-stream.js';

/**
 * Options of an engine on one OpenAI-compatible server: where it is, the served model and its
 * tokenizer, how prompts are sent, limits, timeouts and retries.
 */
export interface OpenAIEngineOptions {
  /** The server's OpenAI API root, e.g. `http://localhost:8000/v1` (a bare host gets `/v1`). */
  baseUrl: string;
  /** Bearer token; default `OPENAI_API_KEY`, else `EMPTY` (what vLLM and SGLang accept without auth). */
  apiKey?: string;
  /** Served model name; default: the first id the server lists at `/v1/models`. */
  model?: string;
  /**
   * The served model's tokenizer: a local folder, a Hugging Face id, or a loaded Tokenizer
   * (default: the bundled model's). It builds the chat-templated prompt and turns text into ids.
   */
  tokenizer?: string | Tokenizer;
  /** `none`: no chat template, the prompt is the bare message text (base models). */
  chatTemplate?: 'model' | 'none';
  /** Send prompts as token ids (vLLM, SGLang; default) or as text (any OpenAI-compatible server). */
  promptFormat?: 'ids' | 'text';
  /** Max prompt + completion tokens; default: the server's `max_model_len`, else the tokenizer's `model_max_length`. */
  contextLength?: number;
  /**
   * An upper bound on the context length when `contextLength` is not given (a preset's: what the
   * checkpoint was trained for): the smaller of it and what the server or tokenizer says.
   */
  maxContextLength?: number;
  /**
   * Per-request timeout in ms (default 120000): of a whole completion, or, streamed, of the wait
   * for the head and then for each next chunk.
   */
  timeoutMs?: number;
  /**
   * Stream every completion (`stream: true`, default): the text reaches `onDelta` chunk by chunk,
   * the usage comes from `stream_options.include_usage`. false reads each completion whole, for
   * servers that cannot stream; the results are the same.
   */
  stream?: boolean;
  /** Retries of a failed request (default 3); shorthand for `retry.maxRetries`. */
  maxRetries?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * Send the vLLM/SGLang fields that make completions exact (default true): keep stop strings
   * (`include_stop_str_in_output`, `no_stop_trim`), keep special tokens in the text
   * (`skip_special_tokens: false`, `spaces_between_special_tokens: false`) and return the
   * sampled ids (`return_token_ids`). Turn off for servers that reject unknown fields.
   */
  vendorParams?: boolean;
  /** More body fields for every completion request (e.g. `top_k`, `repetition_penalty`). */
  extraBody?: Record<string, unknown>;
  /**
   * How to read `finish_reason: "stop"` when the server reports no `stop_reason`/`matched_stop`,
   * returns no EOS id and the text does not end with a stop string: `eos` (default: a server
   * asked to keep stop strings only lacks one when the model ended with EOS) or `stripped` (the
   * server strips stops and says nothing: the single stop string passed is re-appended).
   */
  unreportedStop?: 'eos' | 'stripped';
  /**
   * How a request names its sample for a router (see AffinityPolicy): by default the sample's
   * key in `X-Session-ID`, `X-SMG-Routing-Key` and the body's `user`; `none` sends nothing.
   */
  affinity?: AffinityPolicy;
}

/** Counters for tests and reports. */
export interface OpenAIEngineStats {
  /** HTTP completion requests sent (attempts, retries included). */
  requests: number;
  /** Requests that returned a completion. */
  successes: number;
  /** Retries after a retryable failure. */
  retries: number;
  failures: Record<FailureKind, number>;
  /** Text-bearing chunks received (a whole completion counts 1). */
  chunks: number;
  /**
   * Retries whose stream departed from text already passed on, continued from that text
   * instead (see StreamedCall).
   */
  resumes: number;
}

/** One model listed by `/v1/models`; vLLM adds `max_model_len`. */
export interface ServedModel {
  id: string;
  maxModelLen?: number;
}

/** Everything `new OpenAIEngine` needs: resolved, no I/O left. */
export interface OpenAIEngineConfig extends Omit<OpenAIEngineOptions, 'tokenizer' | 'model' | 'contextLength'> {
  tokenizer: Tokenizer;
  model: string;
  contextLength: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 10_000;
const HEALTH_TIMEOUT_MS = 2_000;
const HEALTH_CACHE_MS = 1_000;

/** What kind of failure an error is, in words that name no address. */
export function failureWords(err: unknown): string {
  const kind = classifyFailure(err);
  if (kind === 'connection') return 'connection refused or dropped';
  if (kind === 'timeout') return 'no answer in time';
  if (kind === 'rate-limit') return 'rate limited (429)';
  if (kind === 'server' || kind === 'fatal') {
    const status = (err as { status?: unknown }).status;
    return typeof status === 'number' ? `it answered ${status}` : 'it answered with an error';
  }
  return 'cancelled';
}

/**
 * An Engine on an OpenAI-compatible server (vLLM, SGLang, `threadweaver serve`): raw-prompt
 * `/v1/completions` on the client-side chat template, so the controller keeps token-level
 * control of the trajectory. Siblings run as concurrent requests (the server's prefix cache
 * shares the prefix). Completions are streamed: `onDelta` gets the text chunk by chunk, each
 * piece once across retries (see StreamedCall), with the chunk's ids when the server sends them.
 */
export class OpenAIEngine implements Engine {
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly contextLength: number;
  /** vLLM and SGLang take every control in the body. */
  readonly samplingControls = REMOTE_SAMPLING_CONTROLS;
  readonly model: string;
  readonly baseUrl: string;
  readonly stats: OpenAIEngineStats = {
    requests: 0,
    successes: 0,
    retries: 0,
    failures: emptyFailures(),
    chunks: 0,
    resumes: 0,
  };
  readonly retryPolicy: RetryPolicy;
  private readonly client: OpenAI;
  private readonly timeoutMs: number;
  private readonly promptFormat: 'ids' | 'text';
  private readonly unreportedStop: 'eos' | 'stripped';
  private readonly extraBody: Record<string, unknown>;
  private readonly affinity: AffinityPolicy;
  private readonly streaming: boolean;

  constructor(config: OpenAIEngineConfig) {
    this.baseUrl = normalizeBaseUrl(config.baseUrl);
    this.tokenizer = config.chatTemplate === 'none' ? withoutChatTemplate(config.tokenizer) : config.tokenizer;
    this.model = config.model;
    this.contextLength = config.contextLength;
    this.name = `openai:${config.model}@${new URL(this.baseUrl).host}`;
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.promptFormat = config.promptFormat ?? 'ids';
    this.unreportedStop = config.unreportedStop ?? 'eos';
    this.streaming = config.stream ?? true;
    this.retryPolicy = retryPolicyOf(config);
    this.extraBody = { ...((config.vendorParams ?? true) ? VENDOR_PARAMS : {}), ...config.extraBody };
    this.client = createClient(this.baseUrl, config.apiKey, this.timeoutMs);
    this.affinity = config.affinity ?? DEFAULT_AFFINITY_POLICY;
  }

  /** Load the tokenizer and ask the server for its model name and context length. */
  static async connect(options: OpenAIEngineOptions): Promise<OpenAIEngine> {
    const baseUrl = normalizeBaseUrl(options.baseUrl);
    const client = createClient(baseUrl, options.apiKey, options.timeoutMs);
    const [tokenizer, served] = await Promise.all([
      resolveTokenizer(options.tokenizer),
      withRetry(`GET ${baseUrl}/models`, () => listServedModels(client), retryPolicyOf(options)),
    ]);
    const model = options.model ?? firstModel(baseUrl, served);
    const contextLength = options.contextLength ?? contextLengthOf(served, model, tokenizer, options.maxContextLength);
    return new OpenAIEngine({ ...options, baseUrl, tokenizer, model, contextLength });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const startMs = Date.now();
    const call = this.call(request);
    try {
      const r = await withRetry(
        `POST ${this.baseUrl}/completions`,
        () => call.run((req, sink) => this.attempt(req, sink)),
        this.retryPolicy,
        {
          ...(request.signal ? { signal: request.signal } : {}),
          onRetry: () => this.stats.retries++,
        },
      );
      return { ...r, startMs };
    } catch (err) {
      if (classifyFailure(err) === 'abort') return call.aborted(startMs);
      throw err;
    }
  }

  /** A call's text across its attempts, as `complete` and a router run it. */
  call(request: CompletionRequest): StreamedCall {
    return new StreamedCall(request, this.tokenizer, () => this.stats.resumes++);
  }

  completeSiblings(
    prefix: readonly number[],
    suffixes: readonly (readonly number[])[],
    request: Parameters<Engine['completeSiblings']>[2],
  ): Promise<CompletionResult[]> {
    return completeAsConcurrentCalls(
      (r) => this.complete(r),
      (ids) => this.tokenizer.decode(ids),
      prefix,
      suffixes,
      request,
    );
  }

  /**
   * One HTTP request, no retry, no `onDelta`: the unit a router schedules. A streamed reply's
   * pieces go to `onChunk` as they come. Failures are thrown as the openai client's error
   * classes (abort included), or a StreamInterruptedError once a stream has begun.
   */
  async attempt(request: CompletionRequest, onChunk?: ChunkSink): Promise<CompletionResult> {
    const startMs = Date.now();
    const ids = typeof request.prompt === 'string' ? this.tokenizer.encode(request.prompt) : request.prompt;
    if (request.maxTokens <= 0) return emptyResult('length', ids.length, startMs);
    // The server rejects prompt + max_tokens > its context; a prompt that alone is too long is
    // still sent (with max_tokens 1) so that the server's own error reaches the caller.
    const maxTokens = Math.max(1, Math.min(request.maxTokens, this.contextLength - ids.length));
    const stops = (request.stop ?? []).filter((s) => s !== '');
    const prompt =
      this.promptFormat === 'ids'
        ? [...ids]
        : typeof request.prompt === 'string'
          ? request.prompt
          : this.tokenizer.decode(ids);
    const affinity = affinityFields(this.affinity, request.affinity);
    const body = {
      model: this.model,
      prompt,
      max_tokens: maxTokens,
      temperature: request.temperature ?? 0,
      ...(request.topP !== undefined ? { top_p: request.topP } : {}),
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(stops.length > 0 ? { stop: stops } : {}),
      ...affinity.body,
      ...this.extraBody,
      // The request's own controls win over the preset's extra body.
      ...controlFields(request),
    } as CompletionCreateParamsNonStreaming;
    this.stats.requests++;
    let reply: ServerCompletion;
    try {
      reply = this.streaming
        ? await readCompletionStream(this.client, body, {
            signal: request.signal,
            idleMs: this.timeoutMs,
            onChunk,
            headers: affinity.headers,
          })
        : await this.whole(body, request.signal, affinity.headers);
    } catch (err) {
      if (!(err instanceof StreamStop)) this.stats.failures[classifyFailure(err)]++;
      throw err;
    }
    this.stats.chunks += reply.chunks;
    const read = readChoice(reply.choice, stops, this.tokenizer, this.unreportedStop);
    this.stats.successes++;
    const usage = reply.usage;
    const cached = usage?.prompt_tokens_details?.cached_tokens;
    return {
      text: read.text,
      ids: read.ids,
      finishReason: read.finishReason,
      ...(read.matchedStop !== undefined ? { matchedStop: read.matchedStop } : {}),
      usage: {
        promptTokens: usage?.prompt_tokens ?? ids.length,
        completionTokens: read.ids.length,
        cachedPromptTokens: typeof cached === 'number' ? cached : null,
        source: read.idsFrom,
      },
      startMs,
      endMs: Date.now(),
    };
  }

  /** One non-streamed completion. */
  private async whole(
    body: CompletionCreateParamsNonStreaming,
    signal: AbortSignal | undefined,
    headers: Record<string, string>,
  ): Promise<ServerCompletion> {
    const raw: unknown = await this.client.completions.create(body, {
      timeout: this.timeoutMs,
      maxRetries: 0,
      headers,
      ...(signal ? { signal } : {}),
    });
    const parsed = completionSchema.safeParse(raw);
    if (!parsed.success)
      throw new EngineError(
        `${this.baseUrl}/completions: unexpected response: ${z.prettifyError(parsed.error)}`,
        'server',
      );
    const c = parsed.data.choices[0]!;
    return {
      choice: {
        text: c.text,
        finishReason: c.finish_reason ?? null,
        ...reportedStop(c),
        ...(c.token_ids ? { tokenIds: c.token_ids } : {}),
      },
      usage: parsed.data.usage,
      chunks: 1,
    };
  }

  /** One `GET /v1/models` (no retry): is the server up? */
  probe(): Promise<ServedModel[]> {
    return listServedModels(this.client);
  }

  private lastHealth: { at: number; health: Promise<EngineHealth> } | undefined;

  /** A probe of the server (at most one a second, however often asked). */
  health(): Promise<EngineHealth> {
    const now = Date.now();
    if (!this.lastHealth || now - this.lastHealth.at >= HEALTH_CACHE_MS) {
      const health = listServedModels(this.client, HEALTH_TIMEOUT_MS).then(
        (): EngineHealth => ({ ok: true }),
        (err: unknown): EngineHealth => ({
          ok: false,
          reason: `the upstream server cannot be reached (${failureWords(err)})`,
        }),
      );
      this.lastHealth = { at: now, health };
    }
    return this.lastHealth.health;
  }
}

/** The sampling controls every OpenAI-compatible engine passes on. */
export const REMOTE_SAMPLING_CONTROLS: readonly SamplingControl[] = [
  'topK',
  'minP',
  'repetitionPenalty',
  'presencePenalty',
  'frequencyPenalty',
];

/** The request's sampling controls as vLLM's and SGLang's body fields. */
function controlFields(r: CompletionRequest): Record<string, number> {
  const fields: Record<string, number> = {};
  if (r.topK !== undefined) fields.top_k = r.topK;
  if (r.minP !== undefined) fields.min_p = r.minP;
  if (r.repetitionPenalty !== undefined) fields.repetition_penalty = r.repetitionPenalty;
  if (r.presencePenalty !== undefined) fields.presence_penalty = r.presencePenalty;
  if (r.frequencyPenalty !== undefined) fields.frequency_penalty = r.frequencyPenalty;
  return fields;
}

/** vLLM reads the first four fields, SGLang `no_stop_trim` and `skip_special_tokens`; both ignore the others. */
const VENDOR_PARAMS = {
  include_stop_str_in_output: true,
  no_stop_trim: true,
  skip_special_tokens: false,
  spaces_between_special_tokens: false,
  return_token_ids: true,
} as const;

export interface ReadChoice {
  text: string;
  ids: number[];
  idsFrom: 'server' | 'tokenizer';
  finishReason: FinishReason;
  matchedStop?: string;
}

/**
 * Turn a server's choice into our result, telling a matched stop from EOS:
 * 1. `finish_reason: "length"` → length.
 * 2. The text ends with a stop string we passed → that stop (the server kept it).
 * 3. The server reports the stop (`stop_reason` of vLLM and `threadweaver serve`,
 *    `matched_stop` of SGLang): one of our strings → that stop, re-appended if the server
 *    stripped it; null or a token id → EOS (we pass no stop ids, so an id is an EOS id).
 * 4. No report: the returned ids end with an EOS id → EOS; otherwise `unreportedStop` decides.
 * EOS text some servers leave in the text (`<|im_end|>`) is removed; ids drop trailing EOS ids.
 * Ids are the server's when they decode to exactly the text, else the text re-tokenized.
 */
export function readChoice(
  choice: ServerChoice,
  stops: readonly string[],
  tokenizer: Tokenizer,
  unreportedStop: 'eos' | 'stripped' = 'eos',
): ReadChoice {
  const eos = new Set(tokenizer.eosIds);
  const serverIds = choice.tokenIds ? [...choice.tokenIds] : undefined;
  const endsOnEosId = serverIds !== undefined && serverIds.length > 0 && eos.has(serverIds[serverIds.length - 1]!);
  while (serverIds && serverIds.length > 0 && eos.has(serverIds[serverIds.length - 1]!)) serverIds.pop();

  let text = choice.text;
  let finishReason: FinishReason;
  let matchedStop: string | undefined;
  if (choice.finishReason === 'length') {
    finishReason = 'length';
  } else if (choice.finishReason === 'stop' || choice.finishReason === 'eos') {
    const kept = stops.filter((s) => text.endsWith(s)).sort((a, b) => b.length - a.length)[0];
    const reported = choice.stopReason;
    if (kept !== undefined) matchedStop = kept;
    else if (typeof reported === 'string' && stops.includes(reported)) matchedStop = reported;
    else if (reported === undefined && !endsOnEosId && unreportedStop === 'stripped' && stops.length > 0) {
      if (stops.length > 1) {
        throw new EngineError(
          `finish_reason "stop" without stop_reason: cannot tell which of ${stops.length} stop strings the server stripped`,
          'server',
        );
      }
      matchedStop = stops[0];
    }
    finishReason = matchedStop === undefined ? 'eos' : 'stop';
  } else {
    throw new EngineError(`unexpected finish_reason ${JSON.stringify(choice.finishReason)} from the server`, 'server');
  }

  if (matchedStop !== undefined && !text.endsWith(matchedStop)) text += matchedStop;
  if (finishReason === 'eos') {
    for (const id of tokenizer.eosIds) {
      const eosText = tokenizer.decode([id]);
      if (eosText && text.endsWith(eosText)) text = text.slice(0, -eosText.length);
    }
  }
  const useServerIds = serverIds !== undefined && tokenizer.decode(serverIds) === text;
  return {
    text,
    ids: useServerIds ? serverIds : tokenizer.encode(text),
    idsFrom: useServerIds ? 'server' : 'tokenizer',
    finishReason,
    ...(matchedStop !== undefined ? { matchedStop } : {}),
  };
}

/** `http://host:8000` → `http://host:8000/v1`; other paths are kept (minus a trailing slash). */
export function normalizeBaseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new EngineError(`base URL: not a URL: ${value}`, 'config');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new EngineError(`base URL: ${value} is not http(s)`, 'config');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1';
  return url.toString().replace(/\/+$/, '');
}

export function retryPolicyOf(options: Pick<OpenAIEngineOptions, 'retry' | 'maxRetries'>): RetryPolicy {
  return {
    ...DEFAULT_RETRY_POLICY,
    ...options.retry,
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
  };
}

export function createClient(baseUrl: string, apiKey: string | undefined, timeoutMs = DEFAULT_TIMEOUT_MS): OpenAI {
  // Retries are ours (bounded, counted, and able to move to another server).
  return new OpenAI({
    baseURL: baseUrl,
    apiKey: apiKey ?? process.env.OPENAI_API_KEY ?? 'EMPTY',
    maxRetries: 0,
    timeout: timeoutMs,
  });
}

/** `GET /v1/models`, once (a health probe should not wait a whole completion timeout). */
export async function listServedModels(client: OpenAI, timeoutMs = PROBE_TIMEOUT_MS): Promise<ServedModel[]> {
  const raw: unknown = await client.get('/models', { maxRetries: 0, timeout: Math.min(timeoutMs, client.timeout) });
  const parsed = modelsSchema.safeParse(raw);
  if (!parsed.success)
    throw new EngineError(`${client.baseURL}/models: unexpected response: ${z.prettifyError(parsed.error)}`, 'server');
  return parsed.data.data.map((m) => ({
    id: m.id,
    ...(m.max_model_len !== undefined ? { maxModelLen: m.max_model_len } : {}),
  }));
}

export function firstModel(baseUrl: string, served: readonly ServedModel[]): string {
  const first = served[0];
  if (!first)
    throw new EngineError(`${baseUrl}/models lists no model; pass the served model name (--served-model)`, 'server');
  return first.id;
}

/** The server's `max_model_len` for `model`, else the tokenizer's `model_max_length`; at most `cap` when given. */
export function contextLengthOf(
  served: readonly ServedModel[],
  model: string,
  tokenizer: Tokenizer,
  cap?: number,
): number {
  const atMost = (n: number) => (cap === undefined ? n : Math.min(n, cap));
  const fromServer = served.find((m) => m.id === model)?.maxModelLen;
  if (fromServer !== undefined) return atMost(fromServer);
  const fromTokenizer = tokenizer instanceof HFTokenizer ? Number(tokenizer.inner.model_max_length) : NaN;
  // Tokenizers without a limit say 1e30.
  if (Number.isInteger(fromTokenizer) && fromTokenizer > 0 && fromTokenizer < 10_000_000) return atMost(fromTokenizer);
  if (cap !== undefined) return cap;
  throw new EngineError(
    `context length of ${model}: the server does not report max_model_len and the tokenizer sets no model_max_length; pass it (--context-length)`,
    'config',
  );
}

/** A loaded tokenizer as is; else a folder or hub id (default: the bundled model's). */
export async function resolveTokenizer(spec?: string | Tokenizer): Promise<Tokenizer> {
  if (spec !== undefined && typeof spec !== 'string') return spec;
  return loadTokenizer(resolveModelSource(spec));
}

function emptyFailures(): Record<FailureKind, number> {
  return { abort: 0, fatal: 0, 'rate-limit': 0, server: 0, connection: 0, timeout: 0 };
}

function emptyResult(finishReason: FinishReason, promptTokens: number, startMs: number): CompletionResult {
  return {
    text: '',
    ids: [],
    finishReason,
    usage: { promptTokens, completionTokens: 0, source: 'tokenizer' },
    startMs,
    endMs: Date.now(),
  };
}
