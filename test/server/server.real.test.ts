import { deriveSeed } from '../../src/internal/random.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { assemble, getJson, postJson, postStream } from '../support/server-http.js';

// The real bundled model behind a real HTTP server on 127.0.0.1 (ephemeral port).
let engine: TransformersEngine;
let srv: RunningServer;
const MODEL = 'tw-test';
beforeAll(async () => {
  engine = await embeddedEngine();
  srv = await startServer({ engine, modelName: MODEL });
});
afterAll(async () => {
  await srv?.close();
});

const problem = 'Compute 37*24 + 18*53 - 29*11.';
const parallel = () => buildPrompt(engine.tokenizer, problem, 'parallel');
const sequential = () => buildPrompt(engine.tokenizer, problem, 'sequential');
const completions = (body: object) => postJson(`${srv.baseURL}/completions`, body);
const chat = (body: object) => postJson(`${srv.baseURL}/chat/completions`, body);

describe('GET endpoints', () => {
  it('/v1/models lists the served model; /v1/models/{id} finds it or 404s', async () => {
    const list = await getJson(`${srv.baseURL}/models`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      object: 'list',
      data: [
        {
          id: MODEL,
          object: 'model',
          created: expect.any(Number),
          owned_by: 'threadweaver',
          max_model_len: engine.contextLength,
        },
      ],
    });
    const one = await getJson(`${srv.baseURL}/models/${MODEL}`);
    expect(one.body).toEqual(list.body.data[0]);
    const missing = await getJson(`${srv.baseURL}/models/gpt-4`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({
      message: expect.stringContaining("'gpt-4' does not exist"),
      type: 'not_found_error',
      param: 'model',
      code: 'model_not_found',
    });
    expect((await getJson(`${srv.baseURL}/models/%E0%A4%A`)).status).toBe(404);
    expect((await getJson(`${srv.baseURL}/models/tw%2Dtest`)).body.id).toBe(MODEL);
  });

  it('/health answers with the queue state', async () => {
    const h = await getJson(`${srv.url}/health`);
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ status: 'ok', model: MODEL, active: 0, queued: 0 });
  });
});

describe('POST /v1/completions', () => {
  it('has OpenAI’s shape plus stop_reason and token_ids, and decodes what the engine decodes', async () => {
    const prompt = parallel();
    const r = await completions({ model: MODEL, prompt, max_tokens: 40 });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const b = r.body;
    expect(Object.keys(b).sort()).toEqual([
      'choices',
      'created',
      'id',
      'model',
      'object',
      'system_fingerprint',
      'usage',
    ]);
    expect(b.id).toMatch(/^cmpl-[0-9a-f]{32}$/);
    expect(b.object).toBe('text_completion');
    expect(Math.abs(b.created - Date.now() / 1000)).toBeLessThan(60);
    expect(b.model).toBe(MODEL);
    const direct = await engine.complete({ prompt, maxTokens: 40 });
    expect(b.choices).toEqual([
      {
        index: 0,
        text: direct.text,
        logprobs: null,
        finish_reason: 'length',
        stop_reason: null,
        token_ids: direct.ids,
      },
    ]);
    const promptTokens = engine.tokenizer.encode(prompt).length;
    expect(b.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 40,
      total_tokens: promptTokens + 40,
      prompt_tokens_details: { cached_tokens: expect.any(Number) },
    });
  });

  it('strips a matched stop (single-token and multi-token) and names it in stop_reason', async () => {
    const prompt = parallel();
    const tag = await completions({ prompt, max_tokens: 400, stop: ['</Outlines>'] });
    const c = tag.body.choices[0];
    expect(c.finish_reason).toBe('stop');
    expect(c.stop_reason).toBe('</Outlines>');
    expect(c.text).not.toContain('</Outlines>');
    expect(c.text).toMatch(/<Outlines>\n<Outline>1:/);
    // token_ids are every sampled id, the stop's included: text + stop_reason re-creates the engine's text.
    expect(engine.tokenizer.decode(c.token_ids)).toBe(c.text + c.stop_reason);
    expect(tag.body.usage.completion_tokens).toBe(c.token_ids.length);

    const word = await completions({ prompt, max_tokens: 400, stop: 'independent' });
    const w = word.body.choices[0];
    expect(w).toMatchObject({ finish_reason: 'stop', stop_reason: 'independent' });
    expect(w.text).not.toContain('independent');
    expect(engine.tokenizer.decode(w.token_ids)).toBe(w.text + 'independent');
  });

  it('reports EOS as finish_reason stop with stop_reason null', async () => {
    const r = await completions({ prompt: sequential(), max_tokens: 900 });
    const c = r.body.choices[0];
    expect(c.finish_reason).toBe('stop');
    expect(c.stop_reason).toBeNull();
    expect(c.text).toContain('\\boxed{1523}');
    expect(c.text).not.toContain('<|im_end|>');
  });

  it('takes the prompt as token ids, as [string] and as [[ids]], with the same result', async () => {
    const prompt = parallel();
    const ids = engine.tokenizer.encode(prompt);
    const replies = await Promise.all(
      [prompt, ids, [prompt], [ids]].map((p) => completions({ prompt: p, max_tokens: 30 })),
    );
    for (const r of replies) expect(r.status).toBe(200);
    const texts = replies.map((r) => r.body.choices[0].text);
    expect(new Set(texts).size).toBe(1);
    expect(replies[1]!.body.usage.prompt_tokens).toBe(ids.length);
    // A one-token prompt with n > 1 (the sibling batch then has no shared prefix).
    const one = await completions({ prompt: [1], max_tokens: 8, n: 2 });
    expect(one.status).toBe(200);
    const alone = await engine.complete({ prompt: [1], maxTokens: 8 });
    expect(one.body.choices.map((c: any) => c.token_ids)).toEqual([alone.ids, alone.ids]);
  });

  it('n > 1: greedy choices agree; seeded choices are reproducible, each sampled with a seed of its own', async () => {
    const prompt = parallel();
    const greedy = await completions({ prompt, max_tokens: 30, n: 2 });
    const single = await completions({ prompt, max_tokens: 30 });
    expect(greedy.body.choices.map((c: any) => c.index)).toEqual([0, 1]);
    expect(greedy.body.choices.map((c: any) => c.text)).toEqual([
      single.body.choices[0].text,
      single.body.choices[0].text,
    ]);
    expect(greedy.body.usage.completion_tokens).toBe(60);
    expect(greedy.body.usage.prompt_tokens).toBe(single.body.usage.prompt_tokens);

    const body = { prompt, max_tokens: 120, n: 4, temperature: 2, seed: 7 };
    const a = await completions(body);
    const b = await completions(body);
    expect(a.body.choices.map((c: any) => c.text)).toEqual(b.body.choices.map((c: any) => c.text));
    // Whether four samples at temperature 2 differ follows the CPU's arithmetic; that each choice
    // has its own seed does not (test/engine.real.test.ts: different seeds, different texts).
    const seeds = [7, ...[1, 2, 3].map((i) => deriveSeed(7, i))];
    const alone = await Promise.all(
      seeds.map((seed) =>
        engine.complete({ prompt: engine.tokenizer.encode(prompt), maxTokens: 120, temperature: 2, seed }),
      ),
    );
    expect(a.body.choices.map((c: any) => c.token_ids)).toEqual(alone.map((r) => r.ids));
    expect(a.body.usage.completion_tokens).toBe(
      a.body.choices.reduce((s: number, c: any) => s + c.token_ids.length, 0),
    );
  });

  it('choice 0 samples with the request seed, the others with derived seeds, valid up to the largest safe seed', async () => {
    const prompt = parallel();
    const top = Number.MAX_SAFE_INTEGER;
    const many = await completions({ prompt, max_tokens: 40, n: 3, temperature: 2, seed: top });
    expect(many.status).toBe(200);
    const alone = await Promise.all(
      [top, deriveSeed(top, 1), deriveSeed(top, 2)].map((seed) =>
        engine.complete({ prompt: engine.tokenizer.encode(prompt), maxTokens: 40, temperature: 2, seed }),
      ),
    );
    expect(many.body.choices.map((c: any) => c.token_ids)).toEqual(alone.map((r) => r.ids));
    // Beyond the safe range a seed cannot name one stream: refused, not a 500.
    const over = await completions({ prompt, max_tokens: 4, seed: 2 ** 60 });
    expect(over.status).toBe(400);
    expect(over.body.error.message).toMatch(/^seed: /);
  });

  it('leaves token_ids out when return_token_ids is false', async () => {
    const r = await completions({ prompt: parallel(), max_tokens: 5, return_token_ids: false });
    expect(r.body.choices[0]).not.toHaveProperty('token_ids');
  });
});

describe('streaming', () => {
  it('completions: SSE chunks join to the non-streamed text; the stop never appears; usage and [DONE] close it', async () => {
    for (const stop of [['</Outlines>'], ['independent', 'Outline>2']]) {
      const body = { prompt: parallel(), max_tokens: 400, stop };
      const plain = await completions(body);
      const s = await postStream(`${srv.baseURL}/completions`, { ...body, stream_options: { include_usage: true } });
      expect(s.status).toBe(200);
      expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(s.events.at(-1)).toBe('[DONE]');
      const chunks = s.events.slice(0, -1);
      const usage = chunks.at(-1);
      expect(usage.choices).toEqual([]);
      expect(usage.usage).toEqual(plain.body.usage);
      for (const e of chunks) {
        expect(e.object).toBe('text_completion');
        expect(e.id).toBe(chunks[0].id);
      }
      const { texts, finals, ids } = assemble(chunks, 'text');
      const expected = plain.body.choices[0];
      expect(texts[0]).toBe(expected.text);
      expect(ids[0]).toEqual(expected.token_ids);
      // Ids ride on the chunks as they are sampled, not all on the last one.
      expect(chunks.filter((e: any) => e.choices[0]?.token_ids?.length > 0).length).toBeGreaterThan(10);
      expect(chunks.length).toBeGreaterThan(10);
      for (const e of chunks.slice(0, -2)) for (const st of stop) expect(e.choices[0].text).not.toContain(st);
      expect(finals[0]).toMatchObject({
        finish_reason: 'stop',
        stop_reason: expected.stop_reason,
        logprobs: null,
      });
    }
  });

  it('chat: a role delta first, content deltas, then the finish chunk; n = 2 streams both', async () => {
    const body = { messages: [{ role: 'user', content: problem }], max_tokens: 120, n: 2, temperature: 1.5, seed: 3 };
    const plain = await chat(body);
    const s = await postStream(`${srv.baseURL}/chat/completions`, body);
    const chunks = s.events.slice(0, -1);
    expect(s.events.at(-1)).toBe('[DONE]');
    expect(chunks.slice(0, 2).map((e: any) => e.choices[0])).toEqual(
      [0, 1].map((index) => ({
        index,
        delta: { role: 'assistant', content: '' },
        logprobs: null,
        finish_reason: null,
      })),
    );
    for (const e of chunks) expect(e.object).toBe('chat.completion.chunk');
    expect(chunks[0].id).toMatch(/^chatcmpl-/);
    const { texts, finals, ids } = assemble(chunks, 'content');
    expect(texts).toEqual(plain.body.choices.map((c: any) => c.message.content));
    expect(finals).toHaveLength(2);
    expect(ids).toEqual(plain.body.choices.map((c: any) => c.token_ids));
  });
});

describe('sampling controls on the embedded engine', () => {
  it('top_k and min_p are honoured (the sampled ids are the engine’s with them); the penalties are refused by name', async () => {
    const body = { prompt: parallel(), max_tokens: 40, temperature: 1.5, seed: 11 };
    const direct = async (controls: object) =>
      (await engine.complete({ prompt: parallel(), maxTokens: 40, temperature: 1.5, seed: 11, ...controls })).ids;
    const greedyLike = await completions({ ...body, top_k: 1 });
    expect(greedyLike.status).toBe(200);
    expect(greedyLike.body.choices[0].token_ids).toEqual(await direct({ topK: 1 }));
    // top_k 1 keeps only the likeliest token: the greedy continuation.
    expect(greedyLike.body.choices[0].token_ids).toEqual(
      (await engine.complete({ prompt: parallel(), maxTokens: 40 })).ids,
    );
    const minP = await completions({ ...body, min_p: 0.2 });
    expect(minP.body.choices[0].token_ids).toEqual(await direct({ minP: 0.2 }));
    for (const field of ['repetition_penalty', 'presence_penalty', 'frequency_penalty']) {
      const r = await completions({ ...body, [field]: 1.5 });
      expect(r.status).toBe(400);
      expect(r.body.error.param).toBe(field);
    }
  });
});

describe('POST /v1/chat/completions', () => {
  it('applies the chat template with the generation prompt; OpenAI’s chat shape', async () => {
    const messages = [
      { role: 'developer', content: 'Reason sequentially, without parallel threads.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compute 37*24 + ' },
          { type: 'text', text: '18*53 - 29*11.' },
        ],
      },
    ];
    const r = await chat({ model: MODEL, messages, max_completion_tokens: 900 });
    expect(r.status).toBe(200);
    const b = r.body;
    expect(b.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(b.object).toBe('chat.completion');
    expect(b.model).toBe(MODEL);
    const plain = await completions({ prompt: sequential(), max_tokens: 900 });
    expect(b.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: plain.body.choices[0].text, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
        stop_reason: null,
        token_ids: plain.body.choices[0].token_ids,
      },
    ]);
    expect(b.usage.prompt_tokens).toBe(engine.tokenizer.encode(sequential()).length);
  });
});

describe('request errors', () => {
  const expectError = (r: { status: number; body: any }, status: number, message: RegExp, param?: string | null) => {
    expect(r.status).toBe(status);
    expect(Object.keys(r.body)).toEqual(['error']);
    expect(Object.keys(r.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(r.body.error.message).toMatch(message);
    if (param !== undefined) expect(r.body.error.param).toBe(param);
  };

  it('bad JSON, empty body and non-objects are 400', async () => {
    expectError(await completions('{"prompt": "x",' as unknown as object), 400, /not valid JSON/);
    expectError(await postJson(`${srv.baseURL}/completions`, ''), 400, /body is empty/);
    expectError(await completions([1, 2]), 400, /expected object/);
  });

  it('wrong types are 400 naming the field', async () => {
    expectError(
      await completions({ prompt: 'x', max_tokens: 'ten' }),
      400,
      /^max_tokens: .*expected number/,
      'max_tokens',
    );
    expectError(await completions({ prompt: 'x', temperature: 9 }), 400, /^temperature: /, 'temperature');
    expectError(await completions({ prompt: 'x', stop: [1] }), 400, /^stop/, 'stop');
    expectError(await completions({ max_tokens: 3 }), 400, /^prompt: required/, 'prompt');
    expectError(
      await completions({ prompt: [1, -2] }),
      400,
      /^prompt: token ids must be non-negative integers \(element 1 is -2\)/,
      'prompt',
    );
    expectError(
      await completions({ prompt: ['a', 'b'] }),
      400,
      /batched prompts \(2 in one request\) are not supported/,
      'prompt',
    );
    expectError(await completions({ prompt: 'x', n: 0 }), 400, /^n: /, 'n');
    expectError(await completions({ prompt: 'x', logprobs: 3 }), 400, /^logprobs: not supported here/, 'logprobs');
    expectError(
      await chat({ messages: [{ role: 'robot', content: 'x' }] }),
      400,
      /^messages\[0\]\.role: /,
      'messages[0].role',
    );
    expectError(await chat({ messages: [] }), 400, /^messages: /, 'messages');
  });

  it('a prompt longer than the context, max_tokens over the limit, and unknown token ids are 400', async () => {
    const long = await completions({ prompt: 'x'.repeat(engine.contextLength), max_tokens: 5 });
    expectError(
      long,
      400,
      new RegExp(
        `maximum context length is ${engine.contextLength} tokens, and the prompt has ${engine.contextLength}`,
      ),
      'prompt',
    );
    expect(long.body.error.code).toBe('context_length_exceeded');
    expectError(
      await chat({ messages: [{ role: 'user', content: 'y'.repeat(2000) }] }),
      400,
      /maximum context length/,
      'messages',
    );
    expectError(
      await completions({ prompt: 'x', max_tokens: engine.contextLength + 1 }),
      400,
      /^max_tokens: 1025 is above this server's limit of 1024/,
      'max_tokens',
    );
    expectError(
      await completions({ prompt: [1, 5000] }),
      400,
      /token id 5000 \(position 1\) is outside the vocabulary of 110 tokens/,
      'prompt',
    );
    expectError(await completions({ prompt: '' }), 400, /prompt is empty/, 'prompt');
    // Within the limit but past the context left: clamped to the room, ending by length.
    const ids = engine.tokenizer.encode('x'.repeat(engine.contextLength - 3));
    const clamped = await completions({ prompt: ids, max_tokens: 100 });
    expect(clamped.status).toBe(200);
    expect(clamped.body.choices[0].finish_reason).toBe('length');
    expect(clamped.body.usage.completion_tokens).toBeLessThanOrEqual(3);
  });

  it('unknown routes are 404, wrong methods 405, an unknown model 404', async () => {
    expectError(await getJson(`${srv.baseURL}/embeddings`), 404, /no route for GET \/v1\/embeddings/);
    const wrong = await getJson(`${srv.baseURL}/completions`);
    expectError(wrong, 405, /does not accept GET; use POST/);
    expect(wrong.headers.get('allow')).toBe('POST');
    expectError(
      await completions({ model: 'gpt-4', prompt: 'x' }),
      404,
      /'gpt-4' does not exist: this server serves 'tw-test'/,
      'model',
    );
  });
});

describe('limits and auth', () => {
  let limited: RunningServer;
  beforeAll(async () => {
    limited = await startServer({
      engine,
      apiKey: 'sekret',
      maxBodyBytes: 2000,
      maxTokensLimit: 50,
      maxConcurrent: 1,
      maxQueued: 0,
    });
  });
  afterAll(async () => {
    await limited?.close();
  });
  const auth = { authorization: 'Bearer sekret' };

  it('without the right bearer key /v1 is 401; /health stays open', async () => {
    const none = await getJson(`${limited.baseURL}/models`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.body.error).toMatchObject({
      type: 'authentication_error',
      code: 'invalid_api_key',
      message: expect.stringMatching(/missing API key/),
    });
    const wrong = await postJson(`${limited.baseURL}/completions`, { prompt: 'x' }, { authorization: 'Bearer guess' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toMatch(/incorrect API key/);
    // Routes are not revealed to unauthenticated callers.
    expect((await getJson(`${limited.baseURL}/nothing`)).status).toBe(401);
    expect((await getJson(`${limited.baseURL}/models`, auth)).status).toBe(200);
    expect((await getJson(`${limited.url}/health`)).status).toBe(200);
  });

  it('bodies over the limit are 413, with or without a Content-Length', async () => {
    const big = await postJson(`${limited.baseURL}/completions`, { prompt: 'x'.repeat(5000) }, auth);
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({
      code: 'request_too_large',
      message: 'request body exceeds the limit of 2000 bytes',
    });
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 50; i++) c.enqueue(new TextEncoder().encode(' '.repeat(1000)));
        c.close();
      },
    });
    const res = await fetch(`${limited.baseURL}/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: chunks,
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    // The server still answers afterwards.
    expect((await postJson(`${limited.baseURL}/completions`, { prompt: 'x', max_tokens: 2 }, auth)).status).toBe(200);
  });

  it('max_tokens above the configured limit is 400; an absent one means the limit', async () => {
    const over = await postJson(`${limited.baseURL}/completions`, { prompt: parallel(), max_tokens: 51 }, auth);
    expect(over.status).toBe(400);
    expect(over.body.error.message).toBe("max_tokens: 51 is above this server's limit of 50");
    const chatOver = await postJson(
      `${limited.baseURL}/chat/completions`,
      { messages: [{ role: 'user', content: problem }], max_completion_tokens: 60 },
      auth,
    );
    expect(chatOver.body.error.param).toBe('max_completion_tokens');
    const dflt = await postJson(`${limited.baseURL}/completions`, { prompt: parallel() }, auth);
    expect(dflt.body.choices[0].token_ids).toHaveLength(50);
    expect(dflt.body.choices[0].finish_reason).toBe('length');
  });

  it('past the queue limit a request is 503 with Retry-After', async () => {
    // maxConcurrent 1, maxQueued 0: a stream holds the only slot.
    const ctl = new AbortController();
    const res = await fetch(`${limited.baseURL}/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: parallel(), max_tokens: 50, stream: true }),
      signal: ctl.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    const busy = await postJson(`${limited.baseURL}/completions`, { prompt: 'x', max_tokens: 1 }, auth);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(busy.body.error).toMatchObject({ type: 'server_error', code: 'overloaded' });
    while (!(await reader.read()).done);
    expect((await postJson(`${limited.baseURL}/completions`, { prompt: 'x', max_tokens: 1 }, auth)).status).toBe(200);
  });
});
