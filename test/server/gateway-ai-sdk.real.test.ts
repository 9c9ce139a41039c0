import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, streamText, type ModelMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedEngine } from '../../src/engine/load.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import { startGateway, startServer, type RunningServer } from '../../src/server/index.js';
import { postJson } from '../support/server-http.js';

// The gateway through the Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`), a client
// written elsewhere: on the embedded engine, and in front of `threadweaver serve` as it would
// sit in front of vLLM.
const problem = 'Compute 37*24 + 18*53 - 29*11.';
let embedded: RunningServer;
let upstream: RunningServer;
let remote: RunningServer;

beforeAll(async () => {
  const engine = await embeddedEngine();
  embedded = await startGateway({ engine, port: 0, apiKey: 'sdk-key' });
  upstream = await startServer({ engine, port: 0 });
  remote = await startGateway({
    engine: await OpenAIEngine.connect({ baseUrl: upstream.baseURL, maxRetries: 0 }),
    port: 0,
    apiKey: 'sdk-key',
  });
});
afterAll(async () => {
  await embedded?.close();
  await remote?.close();
  await upstream?.close();
});

const providerOf = (gw: RunningServer, apiKey = 'sdk-key') =>
  createOpenAICompatible({ name: 'threadweaver', baseURL: gw.baseURL, apiKey, includeUsage: true });

describe.each([
  ['the embedded gateway', () => embedded],
  ['a gateway in front of serve', () => remote],
])('the AI SDK against %s', (_, gateway) => {
  it('generateText: the reasoning as a reasoning part without its tags, the boxed answer as the text', async () => {
    const model = providerOf(gateway())('threadweaver');
    const r = await generateText({ model, prompt: problem, maxRetries: 0 });
    expect(r.text).toContain('\\boxed{1523}');
    expect(r.reasoningText).toBeTruthy();
    expect(r.reasoningText).toContain('<Parallel>');
    expect(r.reasoningText).not.toContain('<think>');
    expect(r.reasoningText).not.toContain('</think>');
    const raw = await postJson(
      `${gateway().baseURL}/chat/completions`,
      { messages: [{ role: 'user', content: problem }] },
      { authorization: 'Bearer sdk-key' },
    );
    expect(r.reasoningText).toBe(raw.body.choices[0].message.reasoning);
    expect(r.text).toBe(raw.body.choices[0].message.content);
    expect(r.usage.inputTokens).toBe(raw.body.usage.prompt_tokens);
    expect(r.usage.outputTokens).toBe(raw.body.usage.completion_tokens);
  });

  it('streamText: reasoning deltas, then text deltas, joined to the same message', async () => {
    const model = providerOf(gateway())('threadweaver');
    const plain = await generateText({ model, prompt: problem, maxRetries: 0 });
    const s = streamText({ model, prompt: problem, maxRetries: 0 });
    const order: string[] = [];
    let reasoning = '';
    let text = '';
    for await (const part of s.fullStream) {
      if (part.type === 'reasoning-delta') reasoning += part.text;
      if (part.type === 'text-delta') text += part.text;
      if (part.type === 'reasoning-delta' || part.type === 'text-delta') order.push(part.type);
      if (part.type === 'error') throw part.error;
    }
    expect(reasoning).toBe(plain.reasoningText);
    expect(text).toBe(plain.text);
    expect(order.lastIndexOf('reasoning-delta')).toBeLessThan(order.indexOf('text-delta'));
    // Token by token, not in one piece.
    expect(order.filter((t) => t === 'reasoning-delta').length).toBeGreaterThan(20);
    expect((await s.usage).inputTokens).toBe(plain.usage.inputTokens);
  });
});

describe('conversations and errors through the AI SDK', () => {
  it('a conversation with an earlier answer and its reasoning: accepted, the whole conversation counted', async () => {
    const model = providerOf(embedded)('threadweaver');
    const first = await generateText({ model, prompt: problem, maxRetries: 0 });
    const messages: ModelMessage[] = [
      { role: 'user', content: problem },
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: first.reasoningText! },
          { type: 'text', text: first.text },
        ],
      },
      { role: 'user', content: 'Compute 71*52.' },
    ];
    const next = await generateText({ model, messages, maxRetries: 0 });
    expect(next.text).toContain('\\boxed{');
    const alone = await generateText({ model, prompt: 'Compute 71*52.', maxRetries: 0 });
    // The earlier turns are in the prompt (the earlier answer, not its reasoning).
    expect(next.usage.inputTokens).toBeGreaterThan(alone.usage.inputTokens! + 10);
    expect(next.usage.inputTokens).toBeLessThan(alone.usage.inputTokens! + 200);
  });

  it('refusals arrive as APICallError with the status, the server message and the field', async () => {
    const expectCallError = async (p: Promise<unknown>, status: number, message: RegExp) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(APICallError.isInstance(err), String(err)).toBe(true);
      const e = err as APICallError;
      expect(e.statusCode).toBe(status);
      expect(e.message).toMatch(message);
      expect(e.isRetryable).toBe(status >= 500 || status === 429);
      return e;
    };
    const model = providerOf(embedded)('threadweaver');
    const tooMany = await expectCallError(
      generateText({ model, prompt: problem, maxOutputTokens: 10_000_000, maxRetries: 0 }),
      400,
      /max_tokens: 10000000 is above this server's limit/,
    );
    expect(JSON.parse(tooMany.responseBody!).error.param).toBe('max_tokens');
    await expectCallError(
      generateText({ model: providerOf(embedded)('gpt-4'), prompt: problem, maxRetries: 0 }),
      404,
      /the model 'gpt-4' does not exist/,
    );
    await expectCallError(
      generateText({ model: providerOf(embedded, 'wrong')('threadweaver'), prompt: problem, maxRetries: 0 }),
      401,
      /.+/,
    );
    await expectCallError(
      // The provider leaves `topK` out (it warns); provider options reach the body as they are.
      generateText({
        model,
        prompt: problem,
        providerOptions: { threadweaver: { repetition_penalty: 1.3 } },
        maxRetries: 0,
      }),
      400,
      /repetition_penalty: the engine behind this server cannot honour it/,
    );
  });
});
