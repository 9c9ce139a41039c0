import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors.js';

/** A bearer-token check; compares digests so the comparison's time does not leak the key. */
export function bearerAuth(apiKey: string): (headers: IncomingHttpHeaders) => void {
  const expected = digest(apiKey);
  return (headers) => {
    const match = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
    const given = match?.[1]?.trim();
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      throw new ApiError(
        401,
        given === undefined
          ? 'missing API key: send the header `Authorization: Bearer <key>`'
          : 'incorrect API key provided',
        'authentication_error',
        null,
        'invalid_api_key',
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
