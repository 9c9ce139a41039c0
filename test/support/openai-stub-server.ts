import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

// A minimal OpenAI-compatible server on 127.0.0.1 for unit tests: it answers /v1/models and
// hands every /v1/completions body to a test-supplied function, recording what it received.

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

export async function startStubServer(
  onCompletion: (req: StubRequest, n: number) => StubReply | StubChoice | Promise<StubReply | StubChoice>,
  options: { models?: unknown[]; apiKey?: string } = {},
): Promise<StubServer> {
  const requests: StubRequest[] = [];
  let completions = 0;
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
        const out = await onCompletion(entry, completions++);
        const reply: StubReply = 'json' in out ? out : { json: completionBody(out) };
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (res.destroyed) return;
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
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
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
