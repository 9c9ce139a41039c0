import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { ThreadweaverError } from '../../errors.js';

/** How failed HTTP calls are retried: bounded, exponential backoff with jitter. */
export interface RetryPolicy {
  /** Retries after the first attempt (0: one attempt only). */
  maxRetries: number;
  /** Backoff before the first retry; it doubles with every retry. */
  baseDelayMs: number;
  /** Cap of the exponential backoff. */
  maxDelayMs: number;
  /** Longest server `Retry-After` honoured (a longer one is cut to this). */
  maxRetryAfterMs: number;
}

/**
 * The retry policy of remote engines where none is given: 3 retries, backoff from 0.5 s doubling
 * up to 8 s, Retry-After honoured up to 30 s.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
};

/**
 * What went wrong with one attempt:
 * - `abort`: the caller's signal fired (never retried);
 * - `fatal`: the request itself is wrong (4xx other than 408/429): retrying cannot help;
 * - `rate-limit`: 429, the server is alive but busy;
 * - `server`: 5xx; `connection`: refused, reset or dropped; `timeout`: no answer in time (or 408).
 */
/** openai-node's error with its generic parameters spelled out (`instanceof` leaves them `any`). */
type ApiError = APIError<number | undefined, Headers | undefined>;

export type FailureKind = 'abort' | 'fatal' | 'rate-limit' | 'server' | 'connection' | 'timeout';

export function classifyFailure(err: unknown): FailureKind {
  if (err instanceof StreamInterruptedError) return err.kind;
  if (err instanceof APIUserAbortError) return 'abort';
  if (err instanceof APIConnectionTimeoutError) return 'timeout';
  if (err instanceof APIConnectionError) return 'connection';
  if (err instanceof APIError) {
    const status = (err as ApiError).status ?? 0;
    if (status === 429) return 'rate-limit';
    if (status === 408) return 'timeout';
    if (status >= 500) return 'server';
    return 'fatal';
  }
  if (err instanceof Error && err.name === 'AbortError') return 'abort';
  return 'fatal';
}

export function isRetryable(kind: FailureKind): boolean {
  return kind !== 'abort' && kind !== 'fatal';
}

/** The server's `retry-after-ms` / `Retry-After` (seconds or an HTTP date), in ms, if it sent one. */
export function retryAfterMs(err: unknown, now = Date.now()): number | undefined {
  if (!(err instanceof APIError)) return undefined;
  const headers = (err as ApiError).headers;
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/**
 * The wait before retry number `retry` (1-based): the server's Retry-After when it gave one,
 * else exponential backoff with "equal jitter" (half fixed, half random) so that callers that
 * failed together do not all come back at the same instant.
 */
export function backoffDelay(
  retry: number,
  policy: RetryPolicy,
  err?: unknown,
  random: () => number = Math.random,
): number {
  const asked = retryAfterMs(err);
  if (asked !== undefined) return Math.min(asked, policy.maxRetryAfterMs);
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return exp / 2 + random() * (exp / 2);
}

/** Wait `ms`; rejects with an AbortError as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function abortError(): Error {
  const err = new Error('aborted');
  err.name = 'AbortError';
  return err;
}

/**
 * A streamed completion that broke after its head: the connection dropped or went quiet, the
 * server sent an error event, or the stream ended before the choice finished. Retryable as the
 * failure it stands for (`kind`).
 */
export class StreamInterruptedError extends ThreadweaverError {
  override name = 'StreamInterruptedError';
  constructor(
    readonly kind: 'server' | 'connection' | 'timeout',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Every attempt failed with a retryable error; `cause` is the last one. */
export class RetriesExhaustedError extends ThreadweaverError {
  override name = 'RetriesExhaustedError';
  constructor(
    what: string,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(`${what} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${describe(cause)}`, { cause });
  }
}

export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici hides the socket error ("ECONNREFUSED ...") in the cause chain.
  const inner = err.cause instanceof Error && err.cause !== err ? ` (${describe(err.cause)})` : '';
  return `${err.message}${inner}`;
}

export interface RetryHooks {
  signal?: AbortSignal;
  /** Called before each wait, with the failure that caused it. */
  onRetry?: (info: { retry: number; delayMs: number; kind: FailureKind; error: unknown }) => void;
}

/**
 * Run `attempt` until it succeeds, a non-retryable error occurs (thrown as is, so the openai
 * client's own error classes reach the caller), or `policy.maxRetries` retries have failed
 * (then RetriesExhaustedError with the last error as cause).
 */
export async function withRetry<T>(
  what: string,
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      const kind = classifyFailure(err);
      if (!isRetryable(kind)) throw err;
      if (retry >= policy.maxRetries) throw new RetriesExhaustedError(what, retry + 1, err);
      const delayMs = backoffDelay(retry + 1, policy, err);
      hooks.onRetry?.({ retry: retry + 1, delayMs, kind, error: err });
      await sleep(delayMs, hooks.signal);
    }
  }
}
