import type { z } from 'zod';
import { ThreadweaverError } from '../../errors.js';

/** OpenAI's error `type` values, as its API and client library use them. */
export type ApiErrorType =
  'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error' | 'rate_limit_error';

/** An error answered with `status` and OpenAI's error body `{ error: { message, type, param, code } }`. */
export class ApiError extends ThreadweaverError {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (e.g. `Allow`, `Retry-After`). */
    readonly headers: Record<string, string> = {},
    /** The failure behind it (`cause`): for the request log, never the response body. */
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  body(): { error: { message: string; type: ApiErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new ApiError(400, message, 'invalid_request_error', param, code);

/** A 400 from zod's issues: every issue's message, prefixed by the field it concerns. */
export function validationError(error: z.ZodError): ApiError {
  const issues = error.issues;
  const message = issues.map((i) => (i.path.length ? `${fieldName(i.path)}: ${i.message}` : i.message)).join('; ');
  const first = issues[0];
  return badRequest(message || 'invalid request body', first && first.path.length ? fieldName(first.path) : null);
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** Any thrown value as an ApiError: ApiErrors pass through, anything else is a 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, `internal error: ${message}`, 'server_error');
}
