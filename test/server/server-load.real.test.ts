import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionRequest, CompletionResult, Engine } from '../../src/engine/types.js';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { assemble, getJson, postJson, sseEvents, until } from '../support/server-http.js';

// Load, disconnects and shutdown against the real model, with an engine wrapper that records
// what the server asked of it and how each generation ended.
let engine: TransformersEngine;
beforeAll(async () => {
  engine = await embeddedEngine();
});

class RecordingEngine implements Engine {
  readonly results: CompletionResult[] = [];
  calls = 0;
  running = 0;
  maxRunning = 0;
  constructor(private readonly inner: Engine) {}
  get name() {
    return this.inner.name;
  }
  get tokenizer() {
    return this.inner.tokenizer;
  }
  get contextLength() {
    return this.inner.contextLength;
  }
  async complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.track(() => this.inner.complete(request)).then((r) => r[0]!);
  }
  async completeSiblings(...args: Parameters<Engine['completeSiblings']>): Promise<CompletionResult[]> {
    return this.track(() => this.inner.completeSiblings(...args));
  }
  private async track(run: () => Promise<CompletionResult | CompletionResult[]>): Promise<CompletionResult[]> {
    this.calls++;
    this.maxRunning = Math.max(this.maxRunning, ++this.running);
    try {
      const r = await run();
      const list = Array.isArray(r) ? r : [r];
      this.results.push(...list);
      return list;
    } finally {
      this.running--;
    }
  }
}

const servers: RunningServer[] = [];
async function serve(
  options: Omit<Parameters<typeof startServer>[0], 'engine'> & { engine?: Engine } = {},
): Promise<RunningServer> {
  const s = await startServer({ engine, ...options });
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const json = { 'content-type': 'application/json' };
const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
/**
 * A generation that runs long: after a lone <|im_start|> the model repeats a digit to the limit
 * (1.2 s here; the server tells a client's FIN from a half-close within about 10 ms).
 */
const slow = { prompt: [1], max_tokens: 1000, n: 1 };
const longPrompt = () => buildPrompt(engine.tokenizer, 'Compute 37*24 + 18*53 - 29*11.', 'sequential');

/** Open a stream and read until `chunks` data events arrived; returns the reader and abort handle. */
async function openStream(url: string, body: object, chunks = 3) {
  const ctl = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
    signal: ctl.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while ((text.match(/\n\n/g) ?? []).length < chunks) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  const rest = async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  };
  return { res, ctl, rest };
}

describe('load', () => {
  it('50 concurrent streams all succeed, each with its own greedy text; close() leaves nothing open', async () => {
    const before = tcpHandles();
    const recording = new RecordingEngine(engine);
    const srv = await serve({ engine: recording });
    const problems = Array.from({ length: 50 }, (_, i) => `Compute ${11 + i}*${23 + 2 * i}.`);
    const t0 = Date.now();
    const replies = await Promise.all(
      problems.map(async (p) => {
        const res = await fetch(`${srv.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ messages: [{ role: 'user', content: p }], max_tokens: 12, stream: true }),
        });
        return { status: res.status, events: sseEvents(await res.text()) };
      }),
    );
    const ms = Date.now() - t0;
    console.log(
      `[server-load] 50 concurrent streams × 12 tokens: ${ms} ms; at most ${recording.maxRunning} generations at once`,
    );
    expect(replies.map((r) => r.status)).toEqual(problems.map(() => 200));
    for (const [i, r] of replies.entries()) {
      expect(r.events.at(-1)).toBe('[DONE]');
      const { texts, finals } = assemble(r.events.slice(0, -1), 'content');
      const direct = await engine.complete({
        prompt: engine.tokenizer.applyChatTemplate([{ role: 'user', content: problems[i]! }]),
        maxTokens: 12,
      });
      expect(texts[0]).toBe(direct.text);
      expect(finals[0].finish_reason).toBe('length');
    }
    expect(recording.calls).toBe(50);
    expect(recording.maxRunning).toBeLessThanOrEqual(4);
    expect((await getJson(`${srv.url}/health`)).body).toMatchObject({ active: 0, queued: 0 });

    await srv.close();
    expect(srv.openConnections()).toBe(0);
    expect(srv.server.listening).toBe(false);
    // The client's side of the keep-alive sockets closes once it reads the server's FIN.
    await until('TCP handles to return to their count before the server', () => tcpHandles() <= before);
  });
});

describe('disconnects', () => {
  it('a client abort mid-stream stops its generation', async () => {
    const recording = new RecordingEngine(engine);
    const srv = await serve({ engine: recording });
    const { ctl } = await openStream(`${srv.baseURL}/completions`, { prompt: longPrompt(), max_tokens: 900 });
    ctl.abort();
    await until('the generation to end', () => recording.results.length === 1);
    expect(recording.results[0]!.finishReason).toBe('abort');
    expect(recording.results[0]!.ids.length).toBeLessThan(900);
    await until('the slot to be free', async () => (await getJson(`${srv.url}/health`)).body.active === 0);
    // The server carries on.
    expect((await postJson(`${srv.baseURL}/completions`, { prompt: 'x', max_tokens: 2 })).status).toBe(200);
  });

  it('a non-streaming client that goes away stops its generation too', async () => {
    const recording = new RecordingEngine(engine);
    const srv = await serve({ engine: recording });
    const ctl = new AbortController();
    const req = fetch(`${srv.baseURL}/completions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(slow),
      signal: ctl.signal,
    }).catch(() => 'aborted');
    await until('the generation to start', () => recording.running === 1);
    ctl.abort();
    expect(await req).toBe('aborted');
    await until('the generation to end', () => recording.results.length === slow.n);
    expect(recording.results.map((r) => r.finishReason)).toEqual(new Array(slow.n).fill('abort'));
  });

  it('a request aborted while queued leaves the queue and never reaches the engine', async () => {
    const recording = new RecordingEngine(engine);
    const srv = await serve({ engine: recording, maxConcurrent: 1 });
    const first = await openStream(`${srv.baseURL}/completions`, slow);
    const ctl = new AbortController();
    const queued = fetch(`${srv.baseURL}/completions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ prompt: 'x', max_tokens: 5 }),
      signal: ctl.signal,
    }).catch(() => 'aborted');
    await until('the second request to queue', async () => (await getJson(`${srv.url}/health`)).body.queued === 1);
    ctl.abort();
    expect(await queued).toBe('aborted');
    await until('the queue to empty', async () => (await getJson(`${srv.url}/health`)).body.queued === 0);
    first.ctl.abort();
    await until('the first generation to end', () => recording.results.length === slow.n);
    expect(recording.calls).toBe(1);
  });
});

describe('shutdown', () => {
  it('with no grace period, close() ends running requests with an error (503 / an error event) and resolves', async () => {
    const before = tcpHandles();
    const srv = await serve({ shutdownGraceMs: 0 });
    const stream = await openStream(`${srv.baseURL}/completions`, { prompt: longPrompt(), max_tokens: 900 });
    const plain = postJson(`${srv.baseURL}/chat/completions`, {
      messages: [{ role: 'user', content: 'Compute 37*24 + 18*53 - 29*11.' }],
      max_tokens: 900,
    });
    await until('both generations to run', async () => (await getJson(`${srv.url}/health`)).body.active === 2);
    const t0 = Date.now();
    await srv.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    const reply = await plain;
    expect(reply.status).toBe(503);
    expect(reply.body.error).toMatchObject({ message: 'the server is shutting down', code: 'shutting_down' });
    const events = sseEvents(await stream.rest());
    expect(events.at(-2)).toEqual({
      error: { message: 'the server is shutting down', type: 'server_error', param: null, code: 'shutting_down' },
    });
    expect(events.at(-1)).toBe('[DONE]');
    expect(srv.openConnections()).toBe(0);
    await expect(fetch(`${srv.url}/health`)).rejects.toThrow();
    await until('TCP handles to return to their count before the server', () => tcpHandles() <= before);
    // Idempotent.
    await srv.close();
  });

  it('requests in flight finish within the grace period; new connections are refused', async () => {
    const lines: string[] = [];
    const srv = await serve({ shutdownGraceMs: 120_000, log: (l) => lines.push(l) });
    const body = { messages: [{ role: 'user', content: 'Compute 37*24 + 18*53 - 29*11.' }], max_tokens: 300 };
    const plain = postJson(`${srv.baseURL}/chat/completions`, body);
    const stream = await openStream(`${srv.baseURL}/chat/completions`, body);
    await until('both generations to run', async () => (await getJson(`${srv.url}/health`)).body.active === 2);
    const closed = srv.close();
    await expect(fetch(`${srv.url}/health`)).rejects.toThrow();
    const reply = await plain;
    expect(reply.status).toBe(200);
    expect(reply.headers.get('connection')).toBe('close');
    expect(reply.body.choices[0].token_ids.length).toBeGreaterThan(0);
    const events = sseEvents(await stream.rest());
    expect(events.at(-1)).toBe('[DONE]');
    expect(assemble(events.slice(0, -1), 'content').texts[0]).toBe(reply.body.choices[0].message.content);
    await closed;
    expect(srv.openConnections()).toBe(0);
    expect(lines.filter((l) => l.startsWith('POST /v1/chat/completions 200 '))).toHaveLength(2);
  });

  it('past the grace period, running requests are answered 503 and close() resolves', async () => {
    const srv = await serve({ shutdownGraceMs: 300 });
    const plain = postJson(`${srv.baseURL}/completions`, slow);
    await until('the generation to run', async () => (await getJson(`${srv.url}/health`)).body.active === 1);
    await srv.close();
    const reply = await plain;
    expect(reply.status).toBe(503);
    expect(reply.body.error.code).toBe('shutting_down');
  });
});

describe('engine failures', () => {
  /** The real engine until `failAfter` deltas of a completion, then a throw. */
  class FailingEngine extends RecordingEngine {
    constructor(private readonly failAfter: number) {
      super(engine);
    }
    override async complete(request: CompletionRequest): Promise<CompletionResult> {
      if (this.failAfter === 0) throw new Error('boom before any token');
      const inner = new AbortController();
      let seen = 0;
      let failed = false;
      const r = await super.complete({
        ...request,
        signal: inner.signal,
        onDelta: (d) => {
          request.onDelta?.(d);
          if (++seen === this.failAfter) {
            failed = true;
            inner.abort();
          }
        },
      });
      if (failed) throw new Error('boom mid-generation');
      return r;
    }
  }

  it('a failure before the response is a 500 in the error shape, logged with its stack', async () => {
    const lines: string[] = [];
    const srv = await serve({ engine: new FailingEngine(0), log: (l) => lines.push(l) });
    const r = await postJson(`${srv.baseURL}/completions`, { prompt: 'x', max_tokens: 5 });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({
      error: { message: 'internal error: boom before any token', type: 'server_error', param: null, code: null },
    });
    await until('the log line', () => lines.length === 1);
    expect(lines[0]).toMatch(/^POST \/v1\/completions 500 \d+ms: Error: boom before any token\n\s+at /);
  });

  it('a failure mid-stream ends the stream with an error event', async () => {
    const srv = await serve({ engine: new FailingEngine(5) });
    const res = await fetch(`${srv.baseURL}/completions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ prompt: longPrompt(), max_tokens: 100, stream: true }),
    });
    expect(res.status).toBe(200);
    const events = sseEvents(await res.text());
    expect(events.at(-2)).toEqual({
      error: { message: 'internal error: boom mid-generation', type: 'server_error', param: null, code: null },
    });
    expect(events.at(-1)).toBe('[DONE]');
    expect(assemble(events.slice(0, -2), 'text').texts[0]).toBe(
      (await engine.complete({ prompt: longPrompt(), maxTokens: 5 })).text,
    );
  });
});
