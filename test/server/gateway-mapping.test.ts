import { afterEach, describe, expect, it } from 'vitest';
import { startGateway } from '../../src/server/gateway/gateway.js';
import { finishReason, reasoningEnd, usage } from '../../src/server/gateway/reply.js';
import { gatewayBodySchema, solveRequest } from '../../src/server/gateway/request.js';
import { solve } from '../../src/solve/solve.js';
import type { RunningServer } from '../../src/server/serve/server.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';
import { postJson } from '../support/server-http.js';

// The gateway's request and reply mapping with exact values at its boundaries, on a scripted
// engine whose character tokenizer makes every count known in advance (tags and chat markers
// are one token each, every other character one token).
const started: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});
const answer = (text: string) => new ScriptedEngine(rules([/assistant\n$/, `${text}${EOS}`]));
const limits = { modelName: 'threadweaver', maxTokensLimit: 1000 };
const body = (fields: object) => gatewayBodySchema.parse({ messages: [{ role: 'user', content: 'Q' }], ...fields });

describe('reasoning_tokens', () => {
  // <think> a b </think> | c d: the reasoning span ends where "c" begins.
  const TEXT = '<think>ab</think>cd';

  it('counts the tokens that start inside the think span, tags included: exactly 4 of 6', async () => {
    const r = await solve('Q', { engine: answer(TEXT) });
    expect(r.text).toBe(TEXT);
    const end = reasoningEnd(r.text, undefined);
    expect(end).toBe('<think>ab</think>'.length);
    // The token that starts exactly at the end of the span ("c") is content.
    expect(usage(r.trajectory, answer(TEXT).tokenizer, end).completion_tokens_details).toEqual({
      reasoning_tokens: 4,
    });
    expect(usage(r.trajectory, answer(TEXT).tokenizer, end).completion_tokens).toBe(6);
  });

  it('the same exact counts reach the client, plain and in the stream’s usage chunk', async () => {
    const gw = await startGateway({ engine: answer(TEXT), port: 0 });
    started.push(gw);
    const plain = await postJson(`${gw.baseURL}/chat/completions`, { messages: [{ role: 'user', content: 'Q' }] });
    expect(plain.body.usage).toMatchObject({
      completion_tokens: 6,
      completion_tokens_details: { reasoning_tokens: 4 },
    });
    const r = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'Q' }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    expect(await r.text()).toContain('"completion_tokens_details":{"reasoning_tokens":4}');
  });

  it('no think span: none; one never closed: every token', async () => {
    const plain = await solve('Q', { engine: answer('just text') });
    expect(
      usage(plain.trajectory, answer('').tokenizer, reasoningEnd(plain.text, undefined)).completion_tokens_details,
    ).toEqual({ reasoning_tokens: 0 });
    const open = await solve('Q', { engine: answer('<think>abc') });
    expect(
      usage(open.trajectory, answer('').tokenizer, reasoningEnd(open.text, undefined)).completion_tokens_details,
    ).toEqual({ reasoning_tokens: 4 });
  });
});

describe('the response budget of a request', () => {
  const engine = answer('x');
  it('max_completion_tokens wins over max_tokens; threadweaver.maxTokens over both', () => {
    expect(solveRequest(body({ max_tokens: 5 }), engine, limits).maxTokens).toBe(5);
    expect(solveRequest(body({ max_completion_tokens: 9 }), engine, limits).maxTokens).toBe(9);
    expect(solveRequest(body({ max_tokens: 5, max_completion_tokens: 9 }), engine, limits).maxTokens).toBe(9);
    expect(solveRequest(body({ max_tokens: 9, max_completion_tokens: 5 }), engine, limits).maxTokens).toBe(5);
    expect(
      solveRequest(body({ max_tokens: 5, max_completion_tokens: 9, threadweaver: { maxTokens: 7 } }), engine, limits)
        .maxTokens,
    ).toBe(7);
    expect(solveRequest(body({}), engine, limits).maxTokens).toBeUndefined();
  });

  it('the limit is checked on the field that wins, named in the 400; exactly the limit passes', () => {
    expect(solveRequest(body({ max_completion_tokens: 1000 }), engine, limits).maxTokens).toBe(1000);
    expect(() => solveRequest(body({ max_tokens: 5, max_completion_tokens: 1001 }), engine, limits)).toThrow(
      "max_completion_tokens: 1001 is above this server's limit of 1000",
    );
    // max_tokens over the limit does not matter when max_completion_tokens wins.
    expect(solveRequest(body({ max_tokens: 5000, max_completion_tokens: 10 }), engine, limits).maxTokens).toBe(10);
  });
});

describe('the context check', () => {
  const promptTokens = answer('x').tokenizer.count('<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n');

  it('a prompt of exactly the context length is refused (no room to answer); one token less is accepted', () => {
    expect(promptTokens).toBe(20);
    const at = new ScriptedEngine(() => EOS, { contextLength: promptTokens });
    let refused: unknown;
    try {
      solveRequest(body({}), at, limits);
    } catch (err) {
      refused = err;
    }
    expect(refused).toMatchObject({
      status: 400,
      code: 'context_length_exceeded',
      param: 'messages',
      message: `this model's maximum context length is ${promptTokens} tokens, and the prompt (1 message) has ${promptTokens} tokens: shorten it so the model can answer`,
    });
    const room = new ScriptedEngine(() => EOS, { contextLength: promptTokens + 1 });
    expect(solveRequest(body({}), room, limits).promptTokens).toBe(promptTokens);
  });
});

describe('finish_reason', () => {
  it('length for the ends that a limit caused (budget, context, transitions), stop for the others', () => {
    expect(finishReason('budget')).toBe('length');
    expect(finishReason('context')).toBe('length');
    expect(finishReason('transitions')).toBe('length');
    for (const end of ['done', 'thread-eos', 'abort', 'error'] as const) expect(finishReason(end)).toBe('stop');
  });

  it('a run stopped by the transition cap answers finish_reason "length"', async () => {
    // Every call ends at the fork trigger without a plan: one transition each, until the cap (32).
    const engine = new ScriptedEngine(() => 'x</Outlines>');
    const gw = await startGateway({ engine, port: 0 });
    started.push(gw);
    const r = await postJson(`${gw.baseURL}/chat/completions`, { messages: [{ role: 'user', content: 'Q' }] });
    expect(r.body.threadweaver.finishReason).toBe('transitions');
    expect(r.body.choices[0].finish_reason).toBe('length');
    expect(engine.requests).toHaveLength(32);
  });
});
