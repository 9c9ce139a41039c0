import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { embeddedEngine } from '../../src/engine/load.js';

// The official OpenAI client against the server: requests, streams and its own error classes.
let engine: TransformersEngine;
let srv: RunningServer;
let client: OpenAI;
const MODEL = 'tiny';
beforeAll(async () => {
  engine = await embeddedEngine();
  srv = await startServer({ engine, modelName: MODEL, apiKey: 'k-123' });
  client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'k-123', maxRetries: 0 });
});
afterAll(async () => {
  await srv?.close();
});

const problem = 'Compute 37*24 + 18*53 - 29*11.';

describe('openai client', () => {
  it('models.list and completions.create', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const r = await client.completions.create({ model: MODEL, prompt, max_tokens: 400, stop: ['</Outlines>'] });
    expect(r.object).toBe('text_completion');
    const direct = await engine.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
    expect(r.choices[0]!.text + '</Outlines>').toBe(direct.text);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect((r.choices[0] as unknown as { stop_reason: string }).stop_reason).toBe('</Outlines>');
    expect(r.usage?.completion_tokens).toBe(direct.ids.length);
  });

  it('chat.completions.create, plain and streamed', async () => {
    const messages = [{ role: 'user' as const, content: problem }];
    const r = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 900 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message.role).toBe('assistant');
    expect(r.choices[0]!.message.content).toContain('\\boxed{1523}');
    expect(r.choices[0]!.finish_reason).toBe('stop');

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 900,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(r.choices[0]!.message.content);
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({
      prompt_tokens: r.usage!.prompt_tokens,
      completion_tokens: r.usage!.completion_tokens,
    });
  });

  it('errors surface as the client’s own classes with the server’s message', async () => {
    const stranger = new OpenAI({ baseURL: srv.baseURL, apiKey: 'wrong', maxRetries: 0 });
    const auth = await stranger.completions.create({ model: MODEL, prompt: 'x' }).catch((e: unknown) => e);
    expect(auth).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((auth as APIError).message).toBe('401 incorrect API key provided');
    expect((auth as APIError).code).toBe('invalid_api_key');

    const bad = await client.completions
      .create({ model: MODEL, prompt: 'x', max_tokens: 5000 })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as APIError).message).toBe("400 max_tokens: 5000 is above this server's limit of 1024");
    expect((bad as APIError).param).toBe('max_tokens');

    const typed = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], temperature: 'hot' as unknown as number })
      .catch((e: unknown) => e);
    expect(typed).toBeInstanceOf(OpenAI.BadRequestError);
    expect((typed as APIError).message).toMatch(/^400 temperature: /);

    const long = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'z'.repeat(3000) }] })
      .catch((e: unknown) => e);
    expect(long).toBeInstanceOf(OpenAI.BadRequestError);
    expect((long as APIError).code).toBe('context_length_exceeded');

    const missing = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
    expect((missing as APIError).message).toMatch(/'gpt-4o' does not exist/);
  });
});
