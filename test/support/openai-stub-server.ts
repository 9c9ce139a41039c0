import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

// A minimal OpenAI-compatible server on 127.0.0.1 for unit tests: it answers /v1/models and
// hands every /v1/completions body to a test-supplied function, recording what it received.
// A request with `stream: true` gets the reply as SSE chunks, as vLLM streams it: the text in
// pieces (a word each), the end and the ids on the last piece, the usage chunk when
// `stream_options.include_usage` asks, then [DONE]; or the events a test scripts itself.

export interface StubRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface StubReply {
  status?: number;
  headers?: Record<string, string>;
  json: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
}

/**
 * A streamed reply written as scripted: `data:` events (objects as JSON, strings as they are);
 * a function is a pause: the stream goes on once the promise it returns settles.
 */
export interface StubStream {
  events: (object | string | (() => Promise<unknown>))[];
  /** Wait this long between events. */
  gapMs?: number;
  /** After the events: end the response (default), destroy the socket, or hang until closed. */
  then?: 'end' | 'drop' | 'hang';
}

/** One choice: the reply body is built around it. */
export interface StubChoice {
  text: string;
  finish_reason: string;
  stop_reason?: string | number | null;
  matched_stop?: string | number | null;
  token_ids?: number[];
}

export interface StubServer {
  url: string;
  requests: StubRequest[];
  /** Completion responses the client closed before they ended (a cancelled request). */
  readonly cancelled: number;
  close: () => Promise<void>;
}

export function completionBody(choice: StubChoice, promptTokens = 1): unknown {
  return {
    id: 'cmpl-stub',
    object: 'text_completion',
    created: 0,
    model: 'stub-model',
    choices: [{ index: 0, logprobs: null, ...choice }],
    usage: { prompt_tokens: promptTokens, completion_tokens: 1, total_tokens: promptTokens + 1 },
  };
}

type CompletionReply = StubReply | StubChoice | StubStream;

/** A completion body as vLLM would stream it: its text a word per chunk, the end on the last one. */
export function streamEvents(json: any, includeUsage: boolean): object[] {
  const head = { id: json.id, object: 'text_completion', created: json.created, model: json.model };
  const c = json.choices[0];
  const pieces: string[] = c.text.match(/\s*\S+\s*|\s+/g) ?? [];
  if (pieces.length === 0) pieces.push('');
  const { text: _, index: __, ...end } = c;
  const events: object[] = pieces.map((text, i) => ({
    ...head,
    choices: [
      {
        index: 0,
        text,
        logprobs: null,
        ...(i === pieces.length - 1 ? end : { finish_reason: null, ...(c.token_ids ? { token_ids: [] } : {}) }),
      },
    ],
  }));
  if (includeUsage && json.usage) events.push({ ...head, choices: [], usage: json.usage });
  return events;
}

export async function startStubServer(
  onCompletion: (req: StubRequest, n: number) => CompletionReply | Promise<CompletionReply>,
  options: { models?: unknown[]; apiKey?: string } = {},
): Promise<StubServer> {
  const requests: StubRequest[] = [];
  let completions = 0;
  let cancelled = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const answer = async (): Promise<void> => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const entry: StubRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: raw ? (JSON.parse(raw) as Record<string, unknown>) : {},
      };
      requests.push(entry);
      const send = (status: number, json: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(json));
      };
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        return send(401, { error: { message: 'Invalid API key', type: 'invalid_request_error' } });
      }
      if (req.method === 'GET' && entry.path === '/v1/models') {
        return send(200, {
          object: 'list',
          data: options.models ?? [{ id: 'stub-model', object: 'model', max_model_len: 1024 }],
        });
      }
      if (req.method === 'POST' && entry.path === '/v1/completions') {
        res.once('close', () => {
          if (!res.writableFinished) cancelled++;
        });
        const out = await onCompletion(entry, completions++);
        const body = entry.body as { stream?: boolean; stream_options?: { include_usage?: boolean } };
        if ('events' in out) return writeStream(res, out);
        const reply: StubReply = 'json' in out ? out : { json: completionBody(out) };
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (res.destroyed) return;
        if (body.stream && (reply.status ?? 200) === 200) {
          return writeStream(res, { events: streamEvents(reply.json, body.stream_options?.include_usage ?? false) });
        }
        return send(reply.status ?? 200, reply.json, reply.headers);
      }
      send(404, { error: { message: `no route ${req.method} ${entry.path}` } });
    };
    // A handler that throws answers 500 with its message (a test sees it, not a hung request).
    req.on('end', () => {
      answer().catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: err instanceof Error ? err.message : String(err) } }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get cancelled() {
      return cancelled;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function writeStream(res: ServerResponse, s: StubStream): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of s.events) {
    if (res.destroyed) return;
    if (typeof e === 'function') {
      await e();
      continue;
    }
    res.write(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`);
    if (s.gapMs) await new Promise((r) => setTimeout(r, s.gapMs));
  }
  if (s.then === 'drop') {
    // Let the events reach the client first: a reset at once could discard them unread.
    await new Promise((r) => setTimeout(r, 50));
    return void res.socket?.destroy();
  }
  if (s.then === 'hang') return;
  res.end('data: [DONE]\n\n');
}

/** A starter of stub servers for a test file; every server it started is closed after each test. */
export function stubServers(): (...args: Parameters<typeof startStubServer>) => Promise<StubServer> {
  const started: StubServer[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });
  return async (...args) => {
    const s = await startStubServer(...args);
    started.push(s);
    return s;
  };
}
