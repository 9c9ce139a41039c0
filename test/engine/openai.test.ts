import { AuthenticationError, BadRequestError, InternalServerError } from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import {
  normalizeBaseUrl,
  OpenAIEngine,
  readChoice,
  type OpenAIEngineOptions,
} from '../../src/engine/remote/openai.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, RetriesExhaustedError } from '../../src/engine/remote/retry.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { completionBody, stubServers, type StubServer } from '../support/openai-stub-server.js';

// OpenAIEngine against small loopback servers whose answers each test scripts.
let tok: HFTokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(resolveModelSource());
});

const stub = stubServers();

const fast = { baseDelayMs: 5, maxDelayMs: 20 };
function engineOn(server: StubServer, options: Partial<OpenAIEngineOptions> = {}): Promise<OpenAIEngine> {
  return OpenAIEngine.connect({ baseUrl: server.url, tokenizer: tok, retry: fast, ...options });
}

describe('readChoice: stop strings, EOS and ids', () => {
  const stops = ['</Thread>'];

  it('a stop the server kept: stop, and the server ids when they decode to the text', () => {
    const text = ' 2*3 = 6.\n</Thread>';
    const r = readChoice(
      { text, finishReason: 'stop', stopReason: '</Thread>', tokenIds: tok.encode(text) },
      stops,
      tok,
    );
    expect(r).toEqual({
      text,
      ids: tok.encode(text),
      idsFrom: 'server',
      finishReason: 'stop',
      matchedStop: '</Thread>',
    });
  });

  it('a stop the server stripped and reported: re-appended', () => {
    const r = readChoice({ text: ' 6.\n', finishReason: 'stop', stopReason: '</Thread>' }, stops, tok);
    expect(r.text).toBe(' 6.\n</Thread>');
    expect(r.finishReason).toBe('stop');
    expect(r.ids).toEqual(tok.encode(' 6.\n</Thread>'));
    expect(r.idsFrom).toBe('tokenizer');
  });

  it('stop_reason null or a token id (SGLang matched_stop) is EOS: nothing appended, EOS text and id removed', () => {
    const ids = [...tok.encode('The answer is 6.'), 2];
    const a = readChoice(
      { text: 'The answer is 6.<|im_end|>', finishReason: 'stop', stopReason: null, tokenIds: ids },
      stops,
      tok,
    );
    expect(a).toEqual({ text: 'The answer is 6.', ids: ids.slice(0, -1), idsFrom: 'server', finishReason: 'eos' });
    const b = readChoice({ text: 'The answer is 6.', finishReason: 'stop', stopReason: 2 }, stops, tok);
    expect(b.finishReason).toBe('eos');
    expect(b.text).toBe('The answer is 6.');
  });

  it('no stop report: a kept stop at the end is a stop; an EOS id at the end is EOS', () => {
    expect(readChoice({ text: 'x</Thread>', finishReason: 'stop' }, stops, tok).matchedStop).toBe('</Thread>');
    const e = readChoice({ text: 'x', finishReason: 'stop', tokenIds: [...tok.encode('x'), 2] }, stops, tok);
    expect(e.finishReason).toBe('eos');
    // Even in `stripped` mode: the EOS id settles it.
    expect(
      readChoice({ text: 'x', finishReason: 'stop', tokenIds: [...tok.encode('x'), 2] }, stops, tok, 'stripped')
        .finishReason,
    ).toBe('eos');
  });

  it('no report and nothing to tell: `eos` by default; `stripped` re-appends the only stop and refuses to guess among several', () => {
    expect(readChoice({ text: 'x', finishReason: 'stop' }, stops, tok).finishReason).toBe('eos');
    const s = readChoice({ text: 'x', finishReason: 'stop' }, stops, tok, 'stripped');
    expect(s).toMatchObject({ text: 'x</Thread>', finishReason: 'stop', matchedStop: '</Thread>' });
    expect(() =>
      readChoice({ text: 'x', finishReason: 'stop' }, ['</Thread>', '</Outlines>'], tok, 'stripped'),
    ).toThrow(/cannot tell which/);
    expect(readChoice({ text: 'x', finishReason: 'stop' }, [], tok, 'stripped').finishReason).toBe('eos');
  });

  it('length, ids that do not decode to the text, and unknown finish reasons', () => {
    const l = readChoice({ text: 'abc', finishReason: 'length', tokenIds: tok.encode('abd') }, stops, tok);
    expect(l).toEqual({ text: 'abc', ids: tok.encode('abc'), idsFrom: 'tokenizer', finishReason: 'length' });
    expect(() => readChoice({ text: '', finishReason: 'content_filter' }, stops, tok)).toThrow(/content_filter/);
  });
});

describe('retry helpers', () => {
  it('backoff doubles with equal jitter, is capped, and honours Retry-After', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, p, undefined, () => 0)).toBe(50);
    expect(backoffDelay(1, p, undefined, () => 1)).toBe(100);
    expect(backoffDelay(3, p, undefined, () => 1)).toBe(400);
    expect(backoffDelay(10, p, undefined, () => 1)).toBe(1000);
    const err = new InternalServerError(503, undefined, 'busy', new Headers({ 'retry-after': '2' }));
    expect(backoffDelay(1, p, err)).toBe(2000);
    expect(backoffDelay(1, { ...p, maxRetryAfterMs: 500 }, err)).toBe(500);
  });

  it('normalizeBaseUrl adds /v1 to a bare origin and rejects non-http URLs', () => {
    expect(normalizeBaseUrl('http://localhost:8000')).toBe('http://localhost:8000/v1');
    expect(normalizeBaseUrl('http://h:1/v1/')).toBe('http://h:1/v1');
    expect(normalizeBaseUrl('https://h/openai/v1')).toBe('https://h/openai/v1');
    expect(() => normalizeBaseUrl('ftp://h')).toThrow(/not http/);
    expect(() => normalizeBaseUrl('localhost:8000')).toThrow();
  });
});

describe('OpenAIEngine over loopback HTTP', () => {
  it('asks /v1/models for the model and context, sends ids, clamps max_tokens, and keeps the server ids', async () => {
    const s = await stub(
      () => ({
        text: ' 6.\n</Thread>',
        finish_reason: 'stop',
        stop_reason: '</Thread>',
        token_ids: tok.encode(' 6.\n</Thread>'),
      }),
      {
        models: [{ id: 'served-x', max_model_len: 64 }],
      },
    );
    const engine = await engineOn(s);
    expect(engine.model).toBe('served-x');
    expect(engine.contextLength).toBe(64);
    const prompt = tok.encode('<|im_start|>user\nCompute 2*3.<|im_end|>\n<|im_start|>assistant\n');
    const deltas: string[] = [];
    const r = await engine.complete({ prompt, maxTokens: 500, stop: ['</Thread>'], onDelta: (d) => deltas.push(d) });
    expect(r).toMatchObject({ text: ' 6.\n</Thread>', finishReason: 'stop', matchedStop: '</Thread>' });
    expect(r.usage.source).toBe('server');
    // Streamed: the text in pieces (a word each from the stub), joined exactly.
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(' 6.\n</Thread>');
    const body = s.requests.find((q) => q.path === '/v1/completions')!.body;
    expect(body).toMatchObject({
      model: 'served-x',
      prompt,
      max_tokens: 64 - prompt.length,
      temperature: 0,
      stop: ['</Thread>'],
      include_stop_str_in_output: true,
      skip_special_tokens: false,
      spaces_between_special_tokens: false,
      return_token_ids: true,
    });
  });

  it('text prompts, no vendor fields, extra body; the tokenizer context when the server gives none; no chat template', async () => {
    const s = await stub(() => ({ text: 'ok', finish_reason: 'length' }), { models: [{ id: 'm' }] });
    const engine = await engineOn(s, {
      promptFormat: 'text',
      vendorParams: false,
      extraBody: { top_k: 5 },
      chatTemplate: 'none',
    });
    expect(engine.contextLength).toBe(1024); // the bundled tokenizer's model_max_length
    expect(engine.tokenizer.applyChatTemplate([{ role: 'user', content: 'Compute 2*3.' }])).toBe('Compute 2*3.');
    const r = await engine.complete({
      prompt: tok.encode('Compute 2*3.'),
      maxTokens: 2,
      seed: 7,
      temperature: 0.5,
      topP: 0.9,
    });
    expect(r).toMatchObject({ text: 'ok', finishReason: 'length', ids: tok.encode('ok') });
    expect(r.usage.source).toBe('tokenizer');
    const body = s.requests.find((q) => q.path === '/v1/completions')!.body;
    expect(body).toEqual({
      model: 'm',
      prompt: 'Compute 2*3.',
      max_tokens: 2,
      temperature: 0.5,
      top_p: 0.9,
      seed: 7,
      top_k: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('siblings run concurrently with their own seeds, each may use the whole shared budget, which is then kept in lockstep', async () => {
    let arrived = 0;
    let release!: () => void;
    const all = new Promise<void>((r) => (release = r));
    // Thread 1 stops after 2 tokens; threads 2 and 3 run to their cap.
    const words = (n: number) => Array.from({ length: n }, (_, k) => ` w${k}`).join('');
    const s = await stub(async (req) => {
      if (++arrived === 3) release();
      await all; // would never resolve if the siblings were sent one after another
      const last = (req.body.prompt as number[]).at(-2);
      const text =
        last === tok.encode('\n<Thread>\n1:').at(-2)
          ? tok.decode(tok.encode(' ok\n</Thread>'))
          : tok.decode(tok.encode(words(40)).slice(0, req.body.max_tokens as number));
      return { text, finish_reason: text.endsWith('</Thread>') ? 'stop' : 'length', token_ids: tok.encode(text) };
    });
    const engine = await engineOn(s);
    const prefix = tok.encode('ctx');
    const suffixes = ['\n<Thread>\n1:', '\n<Thread>\n2:', '\n<Thread>\n3:'].map((x) => tok.encode(x));
    const short = tok.encode(' ok\n</Thread>').length;
    const deltas: [number, string][] = [];
    const r = await engine.completeSiblings(prefix, suffixes, {
      maxTokens: 100,
      maxTotalTokens: 20,
      temperature: 1,
      seed: 40,
      onDelta: (i, d) => deltas.push([i, d]),
      stop: ['</Thread>'],
    });
    const bodies = s.requests.filter((q) => q.path === '/v1/completions').map((q) => q.body);
    expect(new Set(bodies.map((b) => b.seed)).size).toBe(3);
    // Not a split: every request may use all 20 (+1 to tell an EOS right at the budget from a cut).
    expect(bodies.map((b) => b.max_tokens)).toEqual([21, 21, 21]);
    const rest = 20 - short;
    expect(r.map((x) => x.ids.length)).toEqual([short, Math.ceil(rest / 2), Math.floor(rest / 2)]);
    expect(r.map((x) => x.finishReason)).toEqual(['stop', 'length', 'length']);
    expect(r[1]!.text).toBe(tok.decode(tok.encode(words(40)).slice(0, Math.ceil(rest / 2))));
    // Deltas carry only the kept text, once per sibling.
    for (let i = 0; i < 3; i++)
      expect(
        deltas
          .filter(([j]) => j === i)
          .map(([, d]) => d)
          .join(''),
      ).toBe(r[i]!.text);

    const withSeeds = await engine.completeSiblings(prefix, suffixes.slice(0, 2), { maxTokens: 5, seeds: [11, 12] });
    expect(withSeeds).toHaveLength(2);
    expect(
      s.requests
        .slice(-2)
        .map((q) => q.body.seed)
        .sort(),
    ).toEqual([11, 12]);
  });

  it('retries 5xx, 429 (with Retry-After) and timeouts with a bound, and counts them', async () => {
    const s = await stub((_, n) => {
      if (n === 0) return { status: 500, json: { error: { message: 'boom' } } };
      if (n === 1)
        return { status: 429, headers: { 'retry-after-ms': '30' }, json: { error: { message: 'slow down' } } };
      // Held far past the timeout, which is itself far above a loopback answer, even on a busy machine.
      if (n === 2) return { delayMs: 20_000, json: completionBody({ text: 'late', finish_reason: 'length' }) };
      return { text: 'fine', finish_reason: 'length' };
    });
    const engine = await engineOn(s, { timeoutMs: 1_500, maxRetries: 3 });
    const r = await engine.complete({ prompt: [5, 6], maxTokens: 4 });
    expect(r.text).toBe('fine');
    expect(engine.stats).toMatchObject({ requests: 4, successes: 1, retries: 3 });
    expect(engine.stats.failures).toMatchObject({ server: 1, 'rate-limit': 1, timeout: 1 });
  });

  it('gives up after maxRetries with the last error as cause', async () => {
    const s = await stub(() => ({ status: 503, json: { error: { message: 'model overloaded' } } }));
    const engine = await engineOn(s, { maxRetries: 2 });
    const err = await engine.complete({ prompt: [5], maxTokens: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetriesExhaustedError);
    expect((err as Error).message).toMatch(/after 3 attempts: 503 model overloaded/);
    expect((err as Error).cause).toBeInstanceOf(InternalServerError);
    expect(s.requests.filter((q) => q.path === '/v1/completions')).toHaveLength(3);
  });

  it('client errors surface as the openai classes with the server message, without retries', async () => {
    const s = await stub(() => ({
      status: 400,
      json: { error: { message: 'prompt of 2000 tokens exceeds max_model_len 1024', type: 'BadRequestError' } },
    }));
    const engine = await engineOn(s);
    const err = await engine.complete({ prompt: [5], maxTokens: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as Error).message).toContain('exceeds max_model_len');
    expect(engine.stats.requests).toBe(1);

    const locked = await stub(() => ({ text: '', finish_reason: 'length' }), { apiKey: 'right' });
    const denied = await OpenAIEngine.connect({ baseUrl: locked.url, tokenizer: tok, apiKey: 'wrong' }).catch(
      (e: unknown) => e,
    );
    expect(denied).toBeInstanceOf(AuthenticationError);
    expect((denied as Error).message).toContain('Invalid API key');
  });

  it('an abort cancels the request in flight and reports finishReason abort', async () => {
    const s = await stub(() => ({ delayMs: 60_000, json: completionBody({ text: 'never', finish_reason: 'length' }) }));
    const engine = await engineOn(s);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    const r = await engine.complete({ prompt: [5], maxTokens: 4, signal: ac.signal });
    expect(r.finishReason).toBe('abort');
    // It did not wait for the answer (a minute away); a wide margin for a busy machine.
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(engine.stats.retries).toBe(0);
  });
});
