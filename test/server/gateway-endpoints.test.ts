import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import type { Engine } from '../../src/engine/types.js';
import { startGateway, type GatewayOptions } from '../../src/server/gateway/gateway.js';
import { TOKENIZE_CHUNK_CHARS } from '../../src/server/serve/admission.js';
import { startServer } from '../../src/server/serve/server.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { stubServers, type StubServer } from '../support/openai-stub-server.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';
import { getJson, postJson, postStream, sseEvents } from '../support/server-http.js';

// Parameters and endpoints a client expects, on the gateway and on serve: sampling controls
// passed through or refused by name, seed -1, stream_options, HEAD and trailing-slash probes,
// health behind an upstream, error bodies, queued streams, and bodies too long to fit.
let tok: HFTokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(resolveModelSource());
});

const stub = stubServers();
const started: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});
async function track<T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> {
  const s = await p;
  started.push(s);
  return s;
}

const ANSWER = '<think>\nok\n</think>\nThe answer is \\boxed{1}.';
/** A server whose model always answers ANSWER, then EOS. */
const answering = () =>
  stub(() => ({ text: ANSWER, finish_reason: 'stop', stop_reason: null, token_ids: [...tok.encode(ANSWER), 2] }));
const scripted = (contextLength?: number, tokenDelayMs?: number) =>
  new ScriptedEngine(rules([/assistant\n$/, `${ANSWER}${EOS}`]), {
    ...(contextLength ? { contextLength } : {}),
    ...(tokenDelayMs ? { tokenDelayMs } : {}),
  });
const gatewayOn = (engine: Engine, o: Partial<GatewayOptions> = {}) => track(startGateway({ engine, port: 0, ...o }));
const user = (content: string) => ({ messages: [{ role: 'user', content }] });
const completions = (s: StubServer) => s.requests.filter((r) => r.path === '/v1/completions').map((r) => r.body);

describe('sampling controls', () => {
  it('reach a remote engine in every completion body, over the preset extra body', async () => {
    const s = await answering();
    const engine = await OpenAIEngine.connect({
      baseUrl: s.url,
      tokenizer: tok,
      extraBody: { top_k: -1, repetition_penalty: 1 },
    });
    const gw = await gatewayOn(engine);
    const controls = {
      top_k: 20,
      min_p: 0.05,
      repetition_penalty: 1.1,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
    };
    const r = await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), ...controls });
    expect(r.status).toBe(200);
    expect(completions(s)).not.toHaveLength(0);
    for (const body of completions(s)) expect(body).toMatchObject(controls);
    // Neutral values are not sent: the preset's stay.
    const before = completions(s).length;
    await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), top_k: -1, presence_penalty: 0 });
    const plain = completions(s)[before]!;
    expect(plain).toMatchObject({ top_k: -1, repetition_penalty: 1 });
    expect(plain).not.toHaveProperty('presence_penalty');
  });

  it('an engine that cannot honour one refuses it with a 400 naming the field; neutral values pass', async () => {
    const gw = await gatewayOn(scripted());
    const serve = await track(startServer({ engine: scripted(), port: 0 }));
    for (const [field, value] of [
      ['top_k', 5],
      ['min_p', 0.1],
      ['repetition_penalty', 1.2],
      ['presence_penalty', 0.5],
      ['frequency_penalty', -0.5],
    ] as const) {
      for (const url of [`${gw.baseURL}/chat/completions`, `${serve.baseURL}/chat/completions`]) {
        const r = await postJson(url, { ...user('Q'), [field]: value });
        expect(r.status, `${url} ${field}`).toBe(400);
        expect(r.body.error.param).toBe(field);
        expect(r.body.error.message).toMatch(
          new RegExp(`^${field}: the engine behind this server cannot honour it; leave it out or at `),
        );
      }
    }
    const neutral = { top_k: -1, min_p: 0, repetition_penalty: 1, presence_penalty: 0, frequency_penalty: 0 };
    expect((await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), ...neutral })).status).toBe(200);
    expect((await postJson(`${serve.baseURL}/completions`, { prompt: 'Q', max_tokens: 3, ...neutral })).status).toBe(
      200,
    );
    const range = await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), min_p: 2 });
    expect(range.status).toBe(400);
    expect(range.body.error.param).toBe('min_p');
  });

  it('seed -1 is a random seed (no seed sent); other seeds derive every call’s', async () => {
    const s = await answering();
    const gw = await gatewayOn(await OpenAIEngine.connect({ baseUrl: s.url, tokenizer: tok }));
    expect((await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), seed: -1, temperature: 1 })).status).toBe(
      200,
    );
    expect(completions(s).at(-1)).not.toHaveProperty('seed');
    expect((await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), seed: 5, temperature: 1 })).status).toBe(
      200,
    );
    expect(typeof completions(s).at(-1)!.seed).toBe('number');
    expect((await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), seed: -2 })).status).toBe(400);
  });
});

describe('request shapes', () => {
  it('stream_options without stream is a 400, as OpenAI answers; image and audio parts say the model reads text only', async () => {
    const gw = await gatewayOn(scripted());
    const serve = await track(startServer({ engine: scripted(), port: 0 }));
    for (const url of [`${gw.baseURL}/chat/completions`, `${serve.baseURL}/chat/completions`]) {
      const r = await postJson(url, { ...user('Q'), stream_options: { include_usage: true } });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({
        param: 'stream_options',
        message: 'stream_options: only allowed when stream is true',
      });
      for (const part of [
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
      ]) {
        const m = await postJson(url, {
          messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, part] }],
        });
        expect(m.status).toBe(400);
        expect(m.body.error.param).toBe('messages[0].content[1]');
        expect(m.body.error.message).toBe(
          `messages[0].content[1]: the model reads text only: '${part.type}' parts are not supported (send the content as text parts)`,
        );
      }
    }
    const serveCompletions = await postJson(`${serve.baseURL}/completions`, { prompt: 'Q', stream_options: {} });
    expect(serveCompletions.body.error.param).toBe('stream_options');
  });

  it('HEAD /health and HEAD /v1/models answer as their GET forms; GET /v1/models/ is /v1/models', async () => {
    const gw = await gatewayOn(scripted(), { apiKey: 'k' });
    const serve = await track(startServer({ engine: scripted(), port: 0, apiKey: 'k' }));
    const auth = { authorization: 'Bearer k' };
    for (const url of [gw.url, serve.url]) {
      for (const path of ['/health', '/v1/models']) {
        const get = await fetch(url + path, { headers: auth });
        const head = await fetch(url + path, { method: 'HEAD', headers: auth });
        expect(head.status, path).toBe(200);
        expect(await head.text()).toBe('');
        expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
        expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
      }
      expect((await fetch(`${url}/v1/models`, { method: 'HEAD' })).status).toBe(401);
      const slash = await getJson(`${url}/v1/models/`, auth);
      expect(slash.status).toBe(200);
      expect(slash.body).toEqual((await getJson(`${url}/v1/models`, auth)).body);
      const post = await postJson(`${url}/v1/models`, {}, auth);
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    }
  });
});

describe('behind an upstream', () => {
  let proxy: FaultProxy;
  it('/health is 503 degraded with the reason while the server cannot be reached, ok once it can; no address shown', async () => {
    const s = await answering();
    proxy = await track(startFaultProxy({ target: s.url }));
    const engine = await OpenAIEngine.connect({ baseUrl: proxy.url, tokenizer: tok, maxRetries: 0 });
    const gw = await gatewayOn(engine);
    expect((await getJson(`${gw.url}/health`)).body.status).toBe('ok');
    proxy.setDown(true);
    await new Promise((r) => setTimeout(r, 1_100)); // past the probe's one-second cache
    const down = await getJson(`${gw.url}/health`);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({
      status: 'degraded',
      reason: 'the upstream server cannot be reached (connection refused or dropped)',
    });
    expect(JSON.stringify(down.body.reason)).not.toMatch(/127\.0\.0\.1|http/);
    proxy.setDown(false);
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await getJson(`${gw.url}/health`)).status).toBe(200);
  });

  it('an engine failure is a 502 that says what failed, never where (the log has the whole error)', async () => {
    const s = await stub(() => ({ status: 500, json: { error: { message: 'boom', type: 'server_error' } } }));
    const log: string[] = [];
    const engine = await OpenAIEngine.connect({
      baseUrl: s.url,
      tokenizer: tok,
      maxRetries: 1,
      retry: { baseDelayMs: 5, maxDelayMs: 10 },
    });
    const gw = await gatewayOn(engine, { log: (l) => log.push(l) });
    for (const stream of [false, true]) {
      const error = stream
        ? (await postStream(`${gw.baseURL}/chat/completions`, user('Q'))).events.find((e) => e !== '[DONE]' && e.error)
            ?.error
        : (await postJson(`${gw.baseURL}/chat/completions`, user('Q'))).body.error;
      expect(error).toMatchObject({
        message: 'the reasoning run failed: the upstream server failed after 2 attempts (it answered 500)',
        code: 'engine_error',
      });
    }
    expect(log.some((l) => l.includes('502') && l.includes(s.url))).toBe(true);
  });
});

describe('queued streams', () => {
  it('get their head at once and SSE comments while they wait for a slot; a full queue is still a 503', async () => {
    const gw = await gatewayOn(scripted(undefined, 5), { maxConcurrent: 1, maxQueued: 1 });
    const body = JSON.stringify({ ...user('Q'), stream: true });
    const headers = { 'content-type': 'application/json' };
    const first = await fetch(`${gw.baseURL}/chat/completions`, { method: 'POST', headers, body });
    expect(first.status).toBe(200);
    const second = await fetch(`${gw.baseURL}/chat/completions`, { method: 'POST', headers, body });
    // The head came while the first run still holds the only slot.
    expect(second.status).toBe(200);
    expect(second.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = second.body!.getReader();
    const firstBytes = new TextDecoder().decode((await reader.read()).value);
    expect(firstBytes).toMatch(/^: waiting for a slot \(number 1 in the queue\)\n\n/);
    expect((await getJson(`${gw.url}/health`)).body).toMatchObject({ active: 1, queued: 1 });
    const third = await postJson(`${gw.baseURL}/chat/completions`, { ...user('Q'), stream: true });
    expect(third.status).toBe(503);
    // Both finish: the waiting one gets its slot, and its text, after the first.
    await first.text();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    const content = sseEvents(firstBytes + rest)
      .filter((e) => e !== '[DONE]')
      .map((e) => e.choices[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe('\nThe answer is \\boxed{1}.');
    expect(rest.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});

describe('bodies that cannot fit', () => {
  it('are refused before they are tokenized whole: a bound from their size, then a count piece by piece', async () => {
    const s = await answering(); // the stub lists max_model_len 1024
    const engine = await OpenAIEngine.connect({ baseUrl: s.url, tokenizer: tok });
    const longest: number[] = [];
    const encode = tok.encode.bind(tok);
    tok.encode = (text: string) => (longest.push(text.length), encode(text));
    try {
      const gw = await gatewayOn(engine);
      const serve = await track(startServer({ engine, port: 0 }));
      for (const url of [`${gw.baseURL}/chat/completions`, `${serve.baseURL}/chat/completions`]) {
        // 900 KB: over on its size alone, nothing tokenized.
        longest.length = 0;
        const huge = await postJson(url, user('7'.repeat(900_000)));
        expect(huge.status).toBe(400);
        expect(huge.body.error.code).toBe('context_length_exceeded');
        expect(huge.body.error.message).toMatch(
          /maximum context length is 1024 tokens, and the prompt.* has at least \d+ tokens/,
        );
        expect(longest).toEqual([]);
        // 12 000 characters that are 12 000 tokens: the size bound passes, the count stops it, in pieces.
        longest.length = 0;
        const long = await postJson(url, user('7 '.repeat(6_000)));
        expect(long.status).toBe(400);
        expect(long.body.error.code).toBe('context_length_exceeded');
        expect(Math.max(...longest)).toBeLessThanOrEqual(TOKENIZE_CHUNK_CHARS);
      }
    } finally {
      tok.encode = encode;
    }
  });
});
