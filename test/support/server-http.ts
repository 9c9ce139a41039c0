// Helpers for the server tests: JSON requests and SSE streams over real HTTP, and raw sockets.

import { connect, type Socket } from 'node:net';

export interface JsonReply {
  status: number;
  headers: Headers;
  body: any;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<JsonReply> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** The `data:` payloads of an SSE body, `[DONE]` kept as the string (comments skipped). */
export function sseEvents(text: string): any[] {
  const events: any[] = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim() || block.startsWith(':')) continue;
    if (!block.startsWith('data: ')) throw new Error(`not an SSE data block: ${JSON.stringify(block)}`);
    const data = block.slice('data: '.length);
    events.push(data === '[DONE]' ? data : JSON.parse(data));
  }
  return events;
}

export async function postStream(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; events: any[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...(body as object), stream: true }),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    events: res.headers.get('content-type')?.startsWith('text/event-stream') ? sseEvents(text) : [JSON.parse(text)],
  };
}

/** Per choice index: the joined text deltas and the last chunk's choice (finish_reason set). */
export function assemble(
  events: any[],
  field: 'text' | 'content',
): { texts: string[]; finals: any[]; ids: number[][] } {
  const texts: string[] = [];
  const finals: any[] = [];
  // Each chunk's token_ids are the ids sampled since the previous one (vLLM's streams): joined per choice.
  const ids: number[][] = [];
  for (const e of events) {
    if (e === '[DONE]') continue;
    for (const c of e.choices) {
      const piece = field === 'text' ? c.text : c.delta.content;
      texts[c.index] = (texts[c.index] ?? '') + (piece ?? '');
      if (c.token_ids) (ids[c.index] ??= []).push(...c.token_ids);
      if (c.finish_reason !== null) finals[c.index] = c;
    }
  }
  return { texts, finals, ids };
}

/** One response read off a raw socket: the final one, and the statuses of the interim (1xx) ones before it. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  interim: number[];
}

/** The first final response in `raw` (with a Content-Length or chunked body), or undefined while incomplete. */
export function parseRawResponse(raw: string): RawResponse | undefined {
  const interim: number[] = [];
  let rest = raw;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const [statusLine, ...lines] = rest.slice(0, headEnd).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
    if (!status) throw new Error(`not an HTTP response: ${JSON.stringify(rest.slice(0, 80))}`);
    rest = rest.slice(headEnd + 4);
    if (status < 200) {
      interim.push(status);
      continue;
    }
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      return Buffer.byteLength(rest) < n
        ? undefined
        : { status, headers, body: Buffer.from(rest).subarray(0, n).toString(), interim };
    }
    if (headers['transfer-encoding'] === 'chunked') {
      let body = '';
      let at = 0;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n', at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(rest.slice(at, lineEnd), 16);
        if (size === 0) return { status, headers, body, interim };
        // Sizes count bytes; the test bodies are ASCII JSON and SSE.
        if (rest.length < lineEnd + 2 + size + 2) return undefined;
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        at = lineEnd + 2 + size + 2;
      }
    }
    return { status, headers, body: rest, interim };
  }
}

/** A plain TCP connection to a test server, for what fetch cannot do: half-close, trickle, Expect. */
export class RawConnection {
  data = '';
  readonly closed: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (this.data += d));
    socket.on('error', () => {});
    // Like any client: once the server has finished, close our side too.
    socket.on('end', () => socket.end());
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: true }, () =>
        resolve(new RawConnection(socket)),
      );
      socket.once('error', reject);
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Wait until the received bytes satisfy `check` (or the connection closes: then check once more). */
  async until<T>(check: (data: string) => T | undefined, what = 'data'): Promise<T> {
    for (;;) {
      const found = check(this.data);
      if (found !== undefined) return found;
      if (this.socket.destroyed || this.socket.readableEnded) {
        const last = check(this.data);
        if (last !== undefined) return last;
        throw new Error(`connection closed before ${what}: ${JSON.stringify(this.data.slice(0, 300))}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  response(): Promise<RawResponse> {
    return this.until(parseRawResponse, 'a complete response');
  }
}

/** A request's head as raw text (`Host` added; the body, when given, with its Content-Length). */
export function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  version = '1.1',
): string {
  const all: Record<string, string> = {
    host: 'test',
    ...headers,
    ...(body !== undefined && headers['content-length'] === undefined
      ? { 'content-length': String(Buffer.byteLength(body)) }
      : {}),
  };
  return `${method} ${path} HTTP/${version}\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n${body ?? ''}`;
}

/** Poll `check` until it holds; fail naming `what` after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A client that sends a request's headers, then its body one byte every `everyMs`: `sent()` says
 * how many bytes are out, `stop()` ends the drip (the connection stays open).
 */
export async function trickle(
  url: string,
  path: string,
  body: string,
  everyMs = 20,
): Promise<{ conn: RawConnection; sent: () => number; stop: () => void }> {
  const conn = await RawConnection.open(url);
  conn.write(rawRequest('POST', path, { 'content-type': 'application/json', 'content-length': String(body.length) }));
  let sent = 0;
  const drip = setInterval(() => {
    if (sent < body.length && !conn.socket.destroyed) conn.write(body[sent++]!);
  }, everyMs);
  return { conn, sent: () => sent, stop: () => clearInterval(drip) };
}

/** The answer a trickling client got when the shutdown cut it off: a 503 `shutting_down` before its body was all out. */
export function shutdownReply(trickler: { conn: RawConnection; sent: () => number }): {
  sent: number;
  status: number | undefined;
  code: unknown;
} {
  const reply = parseRawResponse(trickler.conn.data);
  return {
    sent: trickler.sent(),
    status: reply?.status,
    code: reply ? (JSON.parse(reply.body) as { error?: { code?: unknown } }).error?.code : undefined,
  };
}
