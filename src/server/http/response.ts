import type { ServerResponse } from 'node:http';
import { toApiError, type ApiError } from './errors.js';

/**
 * What a handler answers: a status, headers and a body. Handlers return it and `sendResponse`
 * sends it, so no handler writes to the socket itself. A streamed body is an async iterable of
 * chunks; the head goes out with its first chunk (a body yields '' to send the head at once), so
 * a failure before that is still answered with its own status.
 */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array | AsyncIterable<string>;
  /** For a streamed body: the last chunk to send when it fails after the head went out. */
  streamError?: (error: ApiError) => string;
}

/** A JSON response with `status`, `value` serialized as its body (Content-Type set over `headers`). */
export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify(value) };
}

/** Any thrown value in OpenAI's error shape `{ error: { message, type, param, code } }`, with its status and headers. */
export function errorResponse(err: unknown): HttpResponse {
  const e = toApiError(err);
  return jsonResponse(e.status, e.body(), e.headers);
}

/** An SSE comment line (`: text`): bytes that keep a connection alive, which every SSE client skips. */
export class SseComment {
  constructor(readonly text: string) {}
}

/**
 * Server-sent events as OpenAI streams them: each value as a `data: {json}` block, then
 * `data: [DONE]` ('' sends the head alone; an SseComment a comment line). A failure mid-stream
 * ends it with an `error` event (what the OpenAI client turns into an APIError) and `[DONE]`.
 */
export function sseResponse(events: AsyncIterable<unknown | ''>): HttpResponse {
  return {
    status: 200,
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      // Proxies such as nginx would otherwise buffer the stream.
      'X-Accel-Buffering': 'no',
    },
    body: (async function* () {
      for await (const e of events) {
        yield e === '' ? '' : e instanceof SseComment ? `: ${e.text}\n\n` : `data: ${JSON.stringify(e)}\n\n`;
      }
      yield 'data: [DONE]\n\n';
    })(),
    streamError: (error) => `data: ${JSON.stringify(error.body())}\n\ndata: [DONE]\n\n`,
  };
}

/**
 * Send a response. A whole body goes out with its length. A streamed body is written chunk by
 * chunk as it comes, waiting when the socket's buffer is full; when the client goes away the body
 * is closed (its `finally` runs). A streamed body that fails after the head went out is ended
 * with its `streamError` chunk, and the failure is rethrown for the request log.
 */
export async function sendResponse(res: ServerResponse, r: HttpResponse): Promise<void> {
  const head = () => {
    // Set one by one: headers given to writeHead cannot be read back (the half-close probe reads the type).
    for (const [name, value] of Object.entries(r.headers)) res.setHeader(name, value);
    res.writeHead(r.status);
  };
  if (typeof r.body === 'string' || r.body instanceof Uint8Array) {
    if (res.destroyed || res.headersSent) return;
    res.setHeader('Content-Length', Buffer.byteLength(r.body));
    head();
    res.end(r.body);
    return;
  }
  const chunks = r.body[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await chunks.next();
      if (res.destroyed) break;
      if (!res.headersSent) {
        head();
        res.flushHeaders();
      }
      if (next.done) {
        finished = true;
        res.end();
        break;
      }
      if (next.value && !res.write(next.value)) await drained(res);
    }
  } catch (err) {
    finished = true;
    if (res.headersSent && !res.destroyed && !res.writableEnded) res.end(r.streamError?.(toApiError(err)) ?? '');
    throw err;
  } finally {
    if (!finished) await chunks.return?.();
  }
}

/** Resolves once the socket takes more (or closes). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

/** Answer a failure before the head went out in OpenAI's error shape; after it, nothing more can be said. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  if (!res.headersSent) void sendResponse(res, errorResponse(err));
  else res.end();
}
