import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, type GatewayOptions } from '../../src/server/gateway/gateway.js';
import type { RunningServer } from '../../src/server/serve/server.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';
import { postJson } from '../support/server-http.js';

// Conversations and client system messages through the gateway, on a scripted engine whose
// requests show the prompt each run was given.
const answer = `<think>\nsum\n</think>\nThe answer is \\boxed{3}.${EOS}`;
const started: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

async function gateway(options: Partial<GatewayOptions> = {}, contextLength?: number) {
  const engine = new ScriptedEngine(rules([/assistant\n$/, answer]), contextLength ? { contextLength } : {});
  const gw = await startGateway({ engine, port: 0, ...options });
  started.push(gw);
  const chat = (messages: object[], model?: string) =>
    postJson(`${gw.baseURL}/chat/completions`, { messages, ...(model ? { model } : {}) });
  return { engine, chat };
}

describe('conversations', () => {
  it('earlier turns reach the prompt through the chat template, earlier reasoning left out; the problem is the last user turn', async () => {
    const { engine, chat } = await gateway();
    const r = await chat([
      { role: 'user', content: 'What is 1+1?' },
      { role: 'assistant', content: '<think>\nold thoughts\n</think>\n\nIt is 2.', reasoning: 'old thoughts' },
      { role: 'user', content: 'And 1+2?' },
    ]);
    expect(r.status).toBe(200);
    const prompt = engine.requests[0]!.context;
    expect(prompt).toBe(
      '<|im_start|>user\nWhat is 1+1?<|im_end|>\n' +
        '<|im_start|>assistant\nIt is 2.<|im_end|>\n' +
        '<|im_start|>user\nAnd 1+2?<|im_end|>\n<|im_start|>assistant\n',
    );
    // The whole conversation counts as the prompt.
    expect(r.body.usage.prompt_tokens).toBe(engine.tokenizer.count(prompt));
    expect(r.body.choices[0].message.content).toBe('\nThe answer is \\boxed{3}.');
  });

  it('a conversation too long for the context is a 400 context_length_exceeded naming its size', async () => {
    const { engine, chat } = await gateway({}, 200);
    const long = 'x'.repeat(180);
    const r = await chat([
      { role: 'user', content: long },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'And now?' },
    ]);
    expect(r.status).toBe(400);
    const size = engine.tokenizer.count(
      `<|im_start|>user\n${long}<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n<|im_start|>user\nAnd now?<|im_end|>\n<|im_start|>assistant\n`,
    );
    expect(r.body.error).toEqual({
      message: `this model's maximum context length is 200 tokens, and the prompt (3 messages) has ${size} tokens: shorten it so the model can answer`,
      type: 'invalid_request_error',
      param: 'messages',
      code: 'context_length_exceeded',
    });
    expect(engine.requests).toHaveLength(0);
  });
});

describe('client system messages', () => {
  const messages = [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Q' },
  ];
  const promptOf = async (options: Partial<GatewayOptions>) => {
    const { engine, chat } = await gateway(options);
    expect((await chat(messages)).status).toBe(200);
    return engine.requests[0]!.context;
  };

  it('kept by default, dropped or replaced by the policy', async () => {
    expect(await promptOf({})).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(await promptOf({ clientSystem: { client: 'drop' } })).toBe(
      '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(await promptOf({ clientSystem: { client: 'replace', text: 'Think in parallel.' } })).toBe(
      '<|im_start|>system\nThink in parallel.<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it("dropping keeps the mode's own system message (sequential)", async () => {
    const { engine, chat } = await gateway({ clientSystem: { client: 'drop' } });
    expect((await chat(messages, 'threadweaver-sequential')).status).toBe(200);
    expect(engine.requests[0]!.context).toContain('Reason sequentially, without parallel threads.');
    expect(engine.requests[0]!.context).not.toContain('helpful');
  });
});
