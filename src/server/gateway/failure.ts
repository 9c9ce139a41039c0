import { failureWords } from '../../engine/remote/openai.js';
import { RetriesExhaustedError } from '../../engine/remote/retry.js';
import { SolveError } from '../../solve/types.js';
import { ApiError } from '../http/errors.js';

/** Where a message names a server: URLs, and host:port pairs. */
const ADDRESS = /\bhttps?:\/\/[^\s'"),;]+|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\[[0-9a-f:]+\](?::\d+)?/gi;

/** A message with every server address in it replaced: error bodies go to clients. */
export function withoutAddresses(message: string): string {
  return message.replace(ADDRESS, 'the upstream server');
}

/**
 * An engine failure as the client sees it: a 502, the engine being the gateway's upstream. The
 * message says what failed (after how many attempts, what kind of failure) and never where;
 * the full error stays the ApiError's `cause`, which the request log shows.
 */
export function engineFailure(err: unknown): unknown {
  if (!(err instanceof SolveError)) return err;
  let cause: unknown = err.cause;
  while (cause instanceof Error && !(cause instanceof RetriesExhaustedError) && cause.cause) cause = cause.cause;
  const what =
    cause instanceof RetriesExhaustedError
      ? `the upstream server failed after ${cause.attempts} attempt${cause.attempts === 1 ? '' : 's'} (${failureWords(cause.cause)})`
      : withoutAddresses(err.message.replace(/^solve: /, ''));
  return new ApiError(
    502,
    `the reasoning run failed: ${what}`,
    'server_error',
    null,
    'engine_error',
    {},
    { cause: err },
  );
}
