import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/types.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { startGateway, type RunningServer } from '../../src/server/index.js';
import { solveStream } from '../../src/solve/stream.js';
import { solve } from '../../src/solve/solve.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { postJson, postStream } from '../support/server-http.js';

const PROMPT = 'Compute each of: 37*24; 18*53; 29*11.';

describe('prompt-level forks on the bundled model', () => {
  let engine: Engine;
  const counted = { complete: 0, siblings: [] as number[] };
  beforeAll(async () => {
    const inner = await embeddedEngine();
    engine = {
      name: inner.name,
      tokenizer: inner.tokenizer,
      contextLength: inner.contextLength,
      complete: (r) => (counted.complete++, inner.complete(r)),
      completeSiblings: (prefix, suffixes, r) => (
        counted.siblings.push(suffixes.length),
        inner.completeSiblings(prefix, suffixes, r)
      ),
      releaseCache: (s) => inner.releaseCache?.(s),
    };
  });

  it('"Compute each of: 37*24; 18*53; 29*11." is three arith problems solved as one batch, joined in order', async () => {
    counted.complete = 0;
    counted.siblings = [];
    const r = await solve(PROMPT, { engine, decompose: 'rules' });
    expect(counted).toEqual({ complete: 0, siblings: [3] });
    expect(r.decomposition).toMatchObject({ source: 'rules', schema: { template: 'Compute {data}.' } });
    expect(r.decomposition!.parts.map((p) => [p.prompt, p.answer])).toEqual([
      ['Compute 37*24.', '888'],
      ['Compute 18*53.', '954'],
      ['Compute 29*11.', '319'],
    ]);
    expect(r.answer).toBe('888, 954, 319');
    expect(r.finishReason).toBe('done');
    expect(r.text.startsWith('1. 37*24\n<think>')).toBe(true);
    expect(r.text).toContain('\\boxed{954}.\n\n3. 29*11\n<think>');
    // T counts every part, L the longest.
    const tokens = r.decomposition!.parts.map((p) => p.tokens);
    expect(r.metrics.totalTokens).toBe(tokens.reduce((s, x) => s + x, 0));
    expect(r.metrics.criticalPathTokens).toBe(Math.max(...tokens));
    // The batch keeps the tokens each part gets alone (greedy).
    for (const part of r.decomposition!.parts) {
      const alone = await engine.complete({
        prompt: buildPrompt(engine.tokenizer, part.prompt, 'sequential'),
        maxTokens: 400,
      });
      expect(alone.text).toBe(part.text);
    }
  });

  it('streams as a run: the text events add up to the text', async () => {
    let streamed = '';
    let result;
    for await (const e of solveStream(PROMPT, { engine, decompose: 'auto' })) {
      if (e.type === 'text') streamed += e.text;
      if (e.type === 'result') result = e.result;
    }
    expect(streamed).toBe(result?.text);
  });

  it('the response budget is shared by the parts in lockstep; the end is labelled budget', async () => {
    const r = await solve(PROMPT, { engine, decompose: 'rules', maxTokens: 90 });
    expect(r.finishReason).toBe('budget');
    expect(r.decomposition!.parts.map((p) => p.tokens)).toEqual([30, 30, 30]);
  });

  it('a prompt without a list runs as one task, with the reason', async () => {
    const r = await solve('Compute 37*24 + 18*53.', { engine, decompose: 'rules' });
    expect(r.decomposition).toMatchObject({
      source: null,
      schema: null,
      reason: expect.stringMatching(/no explicit list/),
    });
    expect(r.warnings).toContainEqual(expect.stringMatching(/^not decomposed, run as one task/));
    expect(r.answer).toBe('1842');
  });
});

describe('the gateway serves prompt-level forks as a model id', () => {
  let gw: RunningServer;
  beforeAll(async () => {
    gw = await startGateway({ engine: await embeddedEngine(), port: 0, decompose: 'rules' });
  });
  afterAll(async () => gw?.close());

  it('"threadweaver-decompose" answers each input at once, plain and streamed alike', async () => {
    const body = { model: 'threadweaver-decompose', messages: [{ role: 'user', content: PROMPT }] };
    const plain = await postJson(`${gw.baseURL}/chat/completions`, body);
    expect(plain.status).toBe(200);
    const content = plain.body.choices[0].message.content as string;
    expect(content).toContain('\\boxed{888}');
    expect(content).toContain('3. 29*11\n');
    expect(plain.body.threadweaver.metrics.threads).toBe(3);
    const s = await postStream(`${gw.baseURL}/chat/completions`, body);
    let streamed = '';
    for (const e of s.events)
      if (e !== '[DONE]')
        for (const c of e.choices) streamed += (c.delta.reasoning_content ?? '') + (c.delta.content ?? '');
    expect(streamed).toBe((plain.body.choices[0].message.reasoning_content ?? '') + content);
  });
});
