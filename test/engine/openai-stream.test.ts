import { beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { OpenAIEngine, type OpenAIEngineOptions } from '../../src/engine/remote/openai.js';
import { RoutedEngine } from '../../src/engine/remote/router.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { stubServers, type StubServer, type StubStream } from '../support/openai-stub-server.js';

// Streamed completions of the remote engine against loopback servers whose SSE streams each
// test scripts: pieces, ids, ends, and faults before and after the first token.
let tok: HFTokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(resolveModelSource());
});

const stub = stubServers();
const fast = { baseDelayMs: 5, maxDelayMs: 20 };
const engineOn = (s: StubServer, o: Partial<OpenAIEngineOptions> = {}) =>
  OpenAIEngine.connect({ baseUrl: s.url, tokenizer: tok, retry: fast, ...o });

const head = { id: 'cmpl-s', object: 'text_completion', created: 0, model: 'stub-model' };
/** One chunk: a piece of text, its ids, and (last) how the choice ended. */
const chunk = (text: string, ids?: number[], end?: { finish_reason: string; stop_reason?: string | null }) => ({
  ...head,
  choices: [{ index: 0, text, logprobs: null, finish_reason: null, ...(ids ? { token_ids: ids } : {}), ...end }],
});
/** The text as vLLM streams it with return_token_ids: a chunk per token. */
function perToken(text: string, end: { finish_reason: string; stop_reason?: string | null }): object[] {
  const ids = tok.encode(text);
  let sent = '';
  return ids.map((id, i) => {
    const upTo = tok.decode(ids.slice(0, i + 1));
    const piece = upTo.slice(sent.length);
    sent = upTo;
    return chunk(piece, [id], i === ids.length - 1 ? end : undefined);
  });
}
const usage = (prompt: number, completion: number) => ({
  ...head,
  choices: [],
  usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
});

describe('streamed completions', () => {
  it('pass each chunk on as it comes, keep the per-chunk ids, read usage from the last chunk', async () => {
    const text = ' 2*3 = 6.\n</Thread>';
    const s = await stub((): StubStream => ({
      events: [...perToken(text, { finish_reason: 'stop', stop_reason: '</Thread>' }), usage(7, 9)],
    }));
    const engine = await engineOn(s);
    const deltas: [string, readonly number[] | undefined][] = [];
    const r = await engine.complete({
      prompt: [1, 2, 3],
      maxTokens: 50,
      stop: ['</Thread>'],
      onDelta: (d, ids) => deltas.push([d, ids]),
    });
    expect(r).toMatchObject({ text, ids: tok.encode(text), finishReason: 'stop', matchedStop: '</Thread>' });
    expect(r.usage).toMatchObject({ promptTokens: 7, completionTokens: tok.encode(text).length, source: 'server' });
    expect(deltas.map(([d]) => d).join('')).toBe(text);
    expect(deltas.flatMap(([, ids]) => ids ?? [])).toEqual(tok.encode(text));
    // Token by token, but the start of the stop string waits until it is settled.
    expect(deltas.length).toBeGreaterThan(3);
    for (const [d] of deltas.slice(0, -1)) expect(d.endsWith('<')).toBe(false);
    expect(engine.stats.chunks).toBe(tok.encode(text).length);
    const body = s.requests.find((q) => q.path === '/v1/completions')!.body;
    expect(body).toMatchObject({ stream: true, stream_options: { include_usage: true }, return_token_ids: true });
  });

  it('EOS told apart from a stop: the EOS text the server kept is never passed on', async () => {
    const s = await stub((): StubStream => ({
      events: [
        chunk('The answer', [10]),
        chunk(' is 6.', [11]),
        chunk('<|im_end|>', [2], { finish_reason: 'stop', stop_reason: null }),
      ],
    }));
    const engine = await engineOn(s);
    const deltas: string[] = [];
    const r = await engine.complete({ prompt: [1], maxTokens: 9, stop: ['</Thread>'], onDelta: (d) => deltas.push(d) });
    expect(r.finishReason).toBe('eos');
    expect(r.text).toBe('The answer is 6.');
    expect(deltas.join('')).toBe('The answer is 6.');
  });

  it('a stop the server stripped is re-appended, and passed on at the end', async () => {
    const s = await stub((): StubStream => ({
      events: [chunk(' six', [5]), chunk('.', [6], { finish_reason: 'stop', stop_reason: '</Thread>' })],
    }));
    const engine = await engineOn(s);
    const deltas: string[] = [];
    const r = await engine.complete({ prompt: [1], maxTokens: 9, stop: ['</Thread>'], onDelta: (d) => deltas.push(d) });
    expect(r).toMatchObject({ text: ' six.</Thread>', finishReason: 'stop', matchedStop: '</Thread>' });
    expect(deltas).toEqual([' six', '.', '</Thread>']);
  });

  it('a stream dropped mid-way is retried from scratch: the partial text is passed on once', async () => {
    const text = ' one two three four five six';
    const events = perToken(text, { finish_reason: 'length' });
    const deltas: string[] = [];
    let shownBeforeRetry = '';
    const s = await stub((_, n): StubStream => {
      if (n === 0) return { events: events.slice(0, 6), then: 'drop' };
      shownBeforeRetry = deltas.join('');
      return { events };
    });
    const engine = await engineOn(s);
    const r = await engine.complete({ prompt: [1], maxTokens: 30, seed: 3, onDelta: (d) => deltas.push(d) });
    expect(shownBeforeRetry).toBe(tok.decode(tok.encode(text).slice(0, 6)));
    expect(r.text).toBe(text);
    expect(deltas.join('')).toBe(text);
    expect(engine.stats).toMatchObject({ requests: 2, retries: 1, resumes: 0 });
    expect(engine.stats.failures.connection).toBe(1);
    const [first, second] = s.requests.filter((q) => q.path === '/v1/completions').map((q) => q.body);
    expect(second).toEqual(first); // from scratch: the same request
  });

  it('a retry that departs from the shown text is continued from it instead', async () => {
    const shown = ' alpha be';
    const s = await stub((_, n): StubStream => {
      if (n === 0)
        return {
          events: perToken(' alpha beta gamma', { finish_reason: 'length' }).slice(0, tok.encode(shown).length),
          then: 'drop',
        };
      if (n === 1) return { events: perToken(' alpha delta', { finish_reason: 'length' }) };
      return { events: perToken('ta gamma', { finish_reason: 'length' }) };
    });
    const engine = await engineOn(s);
    const deltas: string[] = [];
    const prompt = [1, 2];
    const r = await engine.complete({ prompt, maxTokens: 40, temperature: 1, onDelta: (d) => deltas.push(d) });
    const bodies = s.requests.filter((q) => q.path === '/v1/completions').map((q) => q.body);
    expect(bodies).toHaveLength(3);
    // The continuation: the prompt plus the ids of the text already shown, with the rest of the budget.
    const shownIds = tok.encode(shown);
    expect(bodies[2]!.prompt).toEqual([...prompt, ...shownIds]);
    expect(bodies[2]!.max_tokens).toBe(40 - shownIds.length);
    expect(r.text).toBe(' alpha beta gamma');
    expect(r.ids).toEqual([...shownIds, ...tok.encode('ta gamma')]);
    expect(r.usage).toMatchObject({ promptTokens: 2, completionTokens: r.ids.length, source: 'server' });
    expect(deltas.join('')).toBe(r.text);
    expect(deltas.join('').startsWith(shown)).toBe(true);
    expect(engine.stats.resumes).toBe(1);
  });

  it('an error event, a stream that ends unfinished, and one that goes quiet are retried', async () => {
    const good = perToken(' fine', { finish_reason: 'length' });
    const s = await stub((_, n): StubStream => {
      if (n === 0)
        return { events: [chunk(' fi', [1]), { error: { message: 'engine died', type: 'InternalServerError' } }] };
      if (n === 1) return { events: [chunk(' fi', [1])] }; // [DONE] without a finish_reason
      if (n === 2) return { events: [chunk(' fi', [1])], then: 'hang' };
      return { events: good };
    });
    const engine = await engineOn(s, { timeoutMs: 300 });
    const deltas: string[] = [];
    const r = await engine.complete({ prompt: [1], maxTokens: 5, onDelta: (d) => deltas.push(d) });
    expect(r.text).toBe(' fine');
    expect(deltas.join('')).toBe(' fine');
    expect(engine.stats.failures).toMatchObject({ server: 1, connection: 1, timeout: 1 });
    expect(engine.stats.retries).toBe(3);
  });

  it('an abort mid-stream cancels the upstream request and keeps what was passed on', async () => {
    const [a, b] = [tok.encode(' partial'), tok.encode(' text')];
    const s = await stub((): StubStream => ({ events: [chunk(' partial', a), chunk(' text', b)], then: 'hang' }));
    const engine = await engineOn(s);
    const ac = new AbortController();
    const deltas: string[] = [];
    const r = await engine.complete({
      prompt: [1],
      maxTokens: 50,
      signal: ac.signal,
      onDelta: (d) => {
        deltas.push(d);
        if (deltas.join('') === ' partial text') ac.abort();
      },
    });
    expect(r).toMatchObject({ finishReason: 'abort', text: ' partial text', ids: [...a, ...b] });
    // The server saw the request cancelled.
    await expect.poll(() => s.cancelled, { timeout: 10_000 }).toBe(1);
    expect(engine.stats.retries).toBe(0);
  });

  it('stream: false reads the completion whole: same result, one delta', async () => {
    const text = ' 2*3 = 6.\n</Thread>';
    const s = await stub(() => ({
      text,
      finish_reason: 'stop',
      stop_reason: '</Thread>',
      token_ids: tok.encode(text),
    }));
    const whole = await engineOn(s, { stream: false });
    const streamed = await engineOn(s);
    const request = { prompt: [1, 2, 3], maxTokens: 50, stop: ['</Thread>'] };
    const deltas: string[] = [];
    const a = await whole.complete({ ...request, onDelta: (d) => deltas.push(d) });
    const b = await streamed.complete(request);
    expect(deltas).toEqual([text]);
    const { startMs: _a, endMs: _b, ...ra } = a;
    const { startMs: _c, endMs: _d, ...rb } = b;
    expect(ra).toEqual(rb);
    const bodies = s.requests.filter((q) => q.path === '/v1/completions').map((q) => q.body);
    expect(bodies[0]!.stream).toBeUndefined();
    expect(bodies[1]!.stream).toBe(true);
  });
});

describe('siblings under a shared budget', () => {
  it('pass on each thread’s tokens as soon as they are sure to be kept, the rest at the end', async () => {
    const words = (n: number) => Array.from({ length: n }, (_, k) => ` w${k}`).join('');
    let release!: () => void;
    const finish = new Promise<void>((r) => (release = r));
    const s = await stub((req): StubStream => {
      const ids = tok.encode(words(30)).slice(0, req.body.max_tokens as number);
      const events = ids.map((id, i) =>
        chunk(tok.decode([id]), [id], i === ids.length - 1 ? { finish_reason: 'length' } : undefined),
      );
      // Every thread streams its first 4 tokens, then waits until the test lets it go on.
      return { events: [...events.slice(0, 4), () => finish, ...events.slice(4)] };
    });
    const engine = await engineOn(s);
    const deltas: [number, string][] = [];
    const of = (i: number) =>
      deltas
        .filter(([j]) => j === i)
        .map(([, d]) => d)
        .join('');
    const result = engine.completeSiblings([1], [[2], [3]], {
      maxTokens: 100,
      maxTotalTokens: 12,
      onDelta: (i, d) => deltas.push([i, d]),
    });
    // 12 tokens shared by 2 threads in lockstep: each is sure of 6, so its first 4 go out at once.
    const first4 = tok.decode(tok.encode(words(30)).slice(0, 4));
    await expect.poll(() => [of(0), of(1)], { timeout: 10_000 }).toEqual([first4, first4]);
    release();
    const r = await result;
    expect(r.map((x) => x.ids.length)).toEqual([6, 6]);
    expect(r.map((x) => x.finishReason)).toEqual(['length', 'length']);
    expect([of(0), of(1)]).toEqual([r[0]!.text, r[1]!.text]);
  });
});

describe('the router', () => {
  it('a stream cut on one server is retried on another, its text passed on once', async () => {
    const text = ' routed text here';
    const events = perToken(text, { finish_reason: 'length' });
    const a = await stub((): StubStream => ({ events: events.slice(0, 5), then: 'drop' }));
    const b = await stub((): StubStream => ({ events }));
    const router = await RoutedEngine.connect({ baseUrls: [a.url, b.url], tokenizer: tok, retry: fast });
    const deltas: string[] = [];
    const r = await router.complete({ prompt: [1], maxTokens: 30, seed: 1, onDelta: (d) => deltas.push(d) });
    expect(r.text).toBe(text);
    expect(deltas.join('')).toBe(text);
    expect(router.counters).toMatchObject({ calls: 1, succeeded: 1, attempts: 2, failovers: 1 });
    await router.close();
  });
});
