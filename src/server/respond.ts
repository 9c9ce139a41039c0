import type { ServerResponse } from 'node:http';
import { toApiError } from './errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Answer a failure in OpenAI's error shape. Before the headers went out that is a JSON error
 * with the error's status; inside a started SSE stream it is an `error` event (what the OpenAI
 * client turns into an APIError) and the end of the stream. A closed connection gets nothing.
 */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.destroyed || res.writableEnded) return;
  const apiError = toApiError(err);
  if (!res.headersSent) {
    sendJson(res, apiError.status, apiError.body(), apiError.headers);
    return;
  }
  res.end(`data: ${JSON.stringify(apiError.body())}\n\ndata: [DONE]\n\n`);
}

/** Server-sent events as OpenAI streams them: `data: {json}` blocks, then `data: [DONE]`. */
export class SseStream {
  constructor(private readonly res: ServerResponse) {
    // Set one by one: headers given to writeHead cannot be read back, and the half-close probe reads the type.
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    // Proxies such as nginx would otherwise buffer the stream.
    res.setHeader('X-Accel-Buffering', 'no');
    res.writeHead(200);
    res.flushHeaders();
  }

  send(data: unknown): void {
    if (!this.res.destroyed) this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    if (!this.res.destroyed) this.res.end('data: [DONE]\n\n');
  }
}
