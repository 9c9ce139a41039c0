import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionRequest, Engine } from '../../src/engine/types.js';
import { startGateway, type RunningServer } from '../../src/server/index.js';
import { solve } from '../../src/solve/solve.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { getJson, postJson, postStream } from '../support/server-http.js';

// The gateway over the real bundled model, on a real HTTP server on 127.0.0.1.
let engine: Engine;
let gw: RunningServer;
const calls: { finishReason: string }[] = [];
const problem = 'Compute 37*24 + 18*53 - 29*11.';
const user = (content: string) => ({ messages: [{ role: 'user', content }] });

beforeAll(async () => {
  const inner = await embeddedEngine();
  // The real engine, with each call's ending recorded (to see a disconnect reach it).
  const record = <T extends { finishReason: string }>(r: T) => (calls.push(r), r);
  engine = {
    name: inner.name,
    tokenizer: inner.tokenizer,
    contextLength: inner.contextLength,
    complete: async (r: CompletionRequest) => record(await inner.complete(r)),
    completeSiblings: async (...a: Parameters<Engine['completeSiblings']>) =>
      (await inner.completeSiblings(...a)).map(record),
    releaseCache: (s: string) => inner.releaseCache(s),
  };
  gw = await startGateway({ engine, port: 0 });
});
afterAll(async () => {
  await gw?.close();
});

const chat = (body: object, headers?: Record<string, string>) =>
  postJson(`${gw.baseURL}/chat/completions`, body, headers);

/** Per channel, the streamed deltas joined; per thread, its live deltas joined. */
function assembleStream(events: any[]) {
  let reasoning = '';
  let content = '';
  const threads = new Map<string, string>();
  let last: any;
  for (const e of events) {
    if (e === '[DONE]') continue;
    for (const c of e.choices) {
      // Both fields carry the same reasoning (the default).
      expect(c.delta.reasoning).toBe(c.delta.reasoning_content);
      reasoning += c.delta.reasoning ?? '';
      content += c.delta.content ?? '';
      if (c.finish_reason) last = { ...c, threadweaver: e.threadweaver };
    }
    const tw = e.threadweaver;
    if (tw?.type === 'thread:delta')
      threads.set(`${tw.block}.${tw.thread}`, (threads.get(`${tw.block}.${tw.thread}`) ?? '') + tw.text);
  }
  return { reasoning, content, threads, last };
}

describe('gateway: chat completions over solve()', () => {
  it('answers in the chat shape: the think text without its tags in reasoning and reasoning_content, content after it; usage counts every thread; threadweaver carries metrics and blocks', async () => {
    const r = await chat({ model: 'threadweaver', ...user(problem) });
    expect(r.status).toBe(200);
    const b = r.body;
    expect(b.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(b.object).toBe('chat.completion');
    expect(b.model).toBe('threadweaver');
    const direct = await solve(problem, { engine });
    const m = b.choices[0].message;
    expect(m.reasoning).toBe(m.reasoning_content);
    expect(`<think>${m.reasoning}</think>${m.content}`).toBe(direct.text);
    expect(m.reasoning).not.toContain('<think>');
    expect(m.reasoning).not.toContain('</think>');
    expect(m.reasoning).toContain('<Parallel>');
    expect(m.content).toContain('\\boxed{1523}');
    expect(b.choices[0].finish_reason).toBe('stop');
    const generated = direct.trajectory.calls.reduce((s, c) => s + c.completionIds.length, 0);
    expect(b.usage).toMatchObject({
      prompt_tokens: direct.trajectory.promptIds.length,
      completion_tokens: generated,
      total_tokens: direct.trajectory.promptIds.length + generated,
    });
    expect(b.usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(b.usage.completion_tokens_details.reasoning_tokens).toBeLessThan(generated);
    const tw = b.threadweaver;
    expect(tw.answer).toBe('1523');
    expect(tw.mode).toBe('parallel');
    const { wallMs: _w, phaseMs: _p, threadTimings: _t, prefillMs: _f, ...sameMetrics } = direct.metrics;
    expect(tw.metrics).toMatchObject(sameMetrics);
    expect(tw.metrics.parallelWidth).toBeCloseTo(direct.metrics.totalTokens / direct.metrics.criticalPathTokens);
    const threadCalls = direct.trajectory.calls.filter((c) => c.role.kind === 'thread');
    expect(tw.blocks).toHaveLength(1);
    expect(tw.blocks[0].outlines.map((o: any) => o.number)).toEqual(['1', '2', '3']);
    expect(tw.blocks[0].threads.map((t: any) => [t.thread, t.text, t.tokens])).toEqual(
      threadCalls.map((c) => [c.role.kind === 'thread' ? c.role.thread : '', c.text, c.completionIds.length]),
    );
    expect(tw.phases.map((p: any) => p.kind)).toEqual(['sequential', 'parallel', 'sequential']);
  });

  it('streams reasoning then content, byte-identical to the non-streamed message, with live thread deltas and [DONE]', async () => {
    const plain = (await chat(user(problem))).body;
    const s = await postStream(`${gw.baseURL}/chat/completions`, {
      ...user(problem),
      stream_options: { include_usage: true },
    });
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(s.events.at(-1)).toBe('[DONE]');
    const a = assembleStream(s.events);
    expect(a.reasoning).toBe(plain.choices[0].message.reasoning);
    expect(a.content).toBe(plain.choices[0].message.content);
    // Ordinary clients see reasoning first, then content, never interleaved.
    const kinds = s.events
      .filter((e) => e !== '[DONE]')
      .flatMap((e) =>
        e.choices.flatMap((c: any) =>
          Object.keys(c.delta).filter((k) => (k === 'content' ? c.delta.content !== '' : k === 'reasoning')),
        ),
      );
    expect(kinds.lastIndexOf('reasoning')).toBeLessThan(kinds.indexOf('content'));
    // Every thread's live deltas join to the thread's text in the final report.
    const threads = plain.threadweaver.blocks.flatMap((b: any) =>
      b.threads.map((t: any) => [`${b.block}.${t.thread}`, t.text]),
    );
    expect([...a.threads]).toEqual(threads);
    expect(a.last.finish_reason).toBe('stop');
    expect(a.last.threadweaver.type).toBe('done');
    expect(a.last.threadweaver.metrics.totalTokens).toBe(plain.threadweaver.metrics.totalTokens);
    const types = new Set(s.events.flatMap((e) => (e !== '[DONE]' && e.threadweaver ? [e.threadweaver.type] : [])));
    expect([...types].sort()).toEqual([
      'delta',
      'done',
      'join',
      'outlines',
      'phase',
      'thread:delta',
      'thread:end',
      'thread:start',
    ]);
    const usage = s.events.at(-2);
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual(plain.usage);
    // Without events, only the text and the final report travel.
    const quiet = await postStream(`${gw.baseURL}/chat/completions`, {
      ...user(problem),
      threadweaver: { events: false },
    });
    const q = assembleStream(quiet.events);
    expect(q.reasoning + q.content).toBe(a.reasoning + a.content);
    expect(quiet.events.filter((e) => e !== '[DONE]' && e.threadweaver).map((e) => e.threadweaver.type)).toEqual([
      'done',
    ]);
  });

  it('chooses the mode by model id or the threadweaver field; system messages reach the prompt', async () => {
    const seq = (await chat({ model: 'threadweaver-sequential', ...user(problem) })).body;
    expect(seq.model).toBe('threadweaver-sequential');
    expect(seq.threadweaver.mode).toBe('sequential');
    expect(seq.threadweaver.metrics.parallelBlocks).toBe(0);
    expect(seq.choices[0].message.reasoning).not.toContain('<Parallel>');
    const byField = (await chat({ ...user(problem), threadweaver: { mode: 'sequential' } })).body;
    expect(byField.choices[0].message).toEqual(seq.choices[0].message);
    const plain = (await chat(user(problem))).body;
    const withSystem = (
      await chat({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: problem },
        ],
      })
    ).body;
    expect(withSystem.usage.prompt_tokens).toBeGreaterThan(plain.usage.prompt_tokens);
    const budget = (await chat({ ...user(problem), max_tokens: 60 })).body;
    expect(budget.choices[0].finish_reason).toBe('length');
    expect(budget.usage.completion_tokens).toBeLessThanOrEqual(60);
    expect(budget.choices[0].message.content).toBe('');
  });

  it('lists its models; /health tells whether a key is needed', async () => {
    const list = await getJson(`${gw.baseURL}/models`);
    expect(list.body.data.map((m: any) => m.id)).toEqual([
      'threadweaver',
      'threadweaver-parallel',
      'threadweaver-sequential',
    ]);
    expect((await getJson(`${gw.baseURL}/models/threadweaver-sequential`)).body.threadweaver.mode).toBe('sequential');
    expect((await getJson(`${gw.baseURL}/models/gpt-4`)).status).toBe(404);
    expect((await getJson(`${gw.url}/health`)).body).toMatchObject({
      status: 'ok',
      model: 'threadweaver',
      apiKeyRequired: false,
      active: 0,
    });
  });

  it('refuses bad input with 400s in OpenAI’s error shape', async () => {
    const bad = async (body: unknown, param: string | null, message: RegExp) => {
      const r = await chat(body as object);
      expect(r.status).toBe(400);
      expect(r.body.error).toEqual({
        message: expect.stringMatching(message),
        type: 'invalid_request_error',
        param,
        code: r.body.error.code,
      });
    };
    await bad('{"messages": [', null, /not valid JSON/);
    await bad({}, 'messages', /messages/);
    await bad({ messages: [] }, 'messages', /messages/);
    await bad(
      {
        messages: [
          { role: 'user', content: problem },
          { role: 'assistant', content: '<think>' },
        ],
      },
      'messages',
      /last message must be the user/,
    );
    await bad({ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', /role/);
    await bad({ ...user('  ') }, 'messages', /empty/);
    await bad({ ...user(problem), n: 2 }, 'n', /not supported/);
    await bad({ ...user(problem), stop: ['x'] }, 'stop', /not supported/);
    await bad({ ...user(problem), threadweaver: { mode: 'fast' } }, 'threadweaver.mode', /parallel|sequential/);
    await bad({ ...user(problem), threadweaver: { max_tokens: 5 } }, 'threadweaver', /max_tokens/);
    await bad(
      { model: 'threadweaver-parallel', ...user(problem), threadweaver: { mode: 'sequential' } },
      'threadweaver.mode',
      /contradicts/,
    );
    await bad({ ...user(problem), max_tokens: engine.contextLength + 1 }, 'max_tokens', /above this server's limit/);
    await bad({ ...user('9'.repeat(engine.contextLength)) }, 'messages', /maximum context length/);
    const model = await chat({ model: 'gpt-4o', ...user(problem) });
    expect(model.status).toBe(404);
    expect(model.body.error).toMatchObject({ type: 'not_found_error', param: 'model', code: 'model_not_found' });
  });

  it('a client that disconnects aborts the run in the engine', async () => {
    const before = calls.length;
    const abort = new AbortController();
    // A long, sampled run (it would go on for thousands of tokens).
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...user('Compute 12*34 + 56*78 + 91*23 + 45*67 + 89*12 + 34*56.'),
        stream: true,
        temperature: 2,
        seed: 7,
      }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    let got = '';
    while (!got.includes('reasoning')) got += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    await expect
      .poll(() => calls.slice(before).some((c) => c.finishReason === 'abort'), { timeout: 30_000 })
      .toBe(true);
    await expect.poll(async () => (await getJson(`${gw.url}/health`)).body.active, { timeout: 30_000 }).toBe(0);
  });
});

describe('gateway: the openai client', () => {
  it('reads reasoning_content and the threadweaver field, plain and streamed', async () => {
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: 'unused', maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: problem }];
    const r = await client.chat.completions.create({ model: 'threadweaver', messages });
    const message = r.choices[0]!.message as (typeof r.choices)[0]['message'] & { reasoning_content: string };
    expect(message.content).toContain('\\boxed{1523}');
    expect((r as unknown as { threadweaver: { answer: string } }).threadweaver.answer).toBe('1523');
    const stream = await client.chat.completions.create({ model: 'threadweaver', messages, stream: true });
    let reasoning = '';
    let content = '';
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined;
      reasoning += delta?.reasoning_content ?? '';
      content += delta?.content ?? '';
    }
    expect(reasoning).toBe(message.reasoning_content);
    expect(content).toBe(message.content);
  });
});

describe('gateway: API key', () => {
  it('guards /v1/* and leaves the page and /health open', async () => {
    const keyed = await startGateway({ engine, port: 0, apiKey: 'k-42' });
    try {
      const none = await postJson(`${keyed.baseURL}/chat/completions`, user(problem));
      expect(none.status).toBe(401);
      expect(none.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
      expect(
        (await postJson(`${keyed.baseURL}/chat/completions`, user(problem), { authorization: 'Bearer nope' })).status,
      ).toBe(401);
      expect((await getJson(`${keyed.baseURL}/models`)).status).toBe(401);
      const ok = await postJson(`${keyed.baseURL}/chat/completions`, user(problem), { authorization: 'Bearer k-42' });
      expect(ok.status).toBe(200);
      expect((await getJson(`${keyed.url}/health`)).body.apiKeyRequired).toBe(true);
      const page = await fetch(`${keyed.url}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect((await fetch(`${keyed.url}/assets/live.js`)).headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${keyed.url}/assets/..%2Fpackage.json`)).status).toBe(404);
    } finally {
      await keyed.close();
    }
  });
});
