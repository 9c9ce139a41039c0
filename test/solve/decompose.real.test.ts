import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractByRules } from '../../src/decompose/rules.js';
import { partPrompts } from '../../src/decompose/schema.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import type { Engine } from '../../src/engine/types.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { startGateway, type RunningServer } from '../../src/server/index.js';
import { solveStream } from '../../src/solve/stream.js';
import { solve } from '../../src/solve/solve.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { startStubServer, type StubServer } from '../support/openai-stub-server.js';
import { postJson, postStream } from '../support/server-http.js';

const PROMPT = 'Compute each of: 37*24; 18*53; 29*11.';

describe('rule-based schema extraction (explicit enumerations only)', () => {
  it('"each of: a; b; c" becomes a template with {data} and three inputs', () => {
    const s = extractByRules(PROMPT)!;
    expect(s).toEqual({ template: 'Compute {data}.', context: '', data: ['37*24', '18*53', '29*11'] });
    expect(partPrompts(s)).toEqual(['Compute 37*24.', 'Compute 18*53.', 'Compute 29*11.']);
  });

  it('numbered and bulleted lists keep the instruction and what follows', () => {
    expect(
      extractByRules('Translate into French:\n1. Good morning\n2) See you soon\n(3) Thank you\nKeep it informal.'),
    ).toEqual({
      template: 'Translate into French:\n{data}\nKeep it informal.',
      context: '',
      data: ['Good morning', 'See you soon', 'Thank you'],
    });
    expect(extractByRules('Summarise each paper:\n- Attention is all you need\n* ResNet\n• BERT')!.data).toEqual([
      'Attention is all you need',
      'ResNet',
      'BERT',
    ]);
    expect(extractByRules('For each of: Paris, Rome and Madrid.')!.data).toEqual(['Paris', 'Rome', 'Madrid']);
  });

  it('finds nothing where the prompt holds no explicit list', () => {
    for (const p of [
      'Compute 37*24 + 18*53.',
      'Compute each of: 37*24.',
      'Steps:\n2. b\n3. c',
      'Prove that 2 + 2 = 4.',
      '- only one bullet',
    ]) {
      expect(extractByRules(p), p).toBeNull();
    }
  });
});

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

describe('model-based schema extraction against an OpenAI-compatible server', () => {
  let stub: StubServer;
  let schemaAnswer = '';
  beforeAll(async () => {
    stub = await startStubServer((req) => {
      const prompt = String(req.body.prompt);
      if (prompt.includes('Read the prompt below')) return { text: schemaAnswer, finish_reason: 'stop' };
      const m = /Summarise in one word: (\w+)/.exec(prompt);
      return { text: m ? `${m[1]!.toUpperCase()} is \\boxed{${m[1]}}.` : 'no idea', finish_reason: 'stop' };
    });
  });
  afterAll(async () => stub?.close());
  const engine = () => OpenAIEngine.connect({ baseUrl: stub.url, promptFormat: 'text', maxRetries: 0 });

  it('a valid JSON schema: one request per input, concurrently, joined in order; T and L count the extraction', async () => {
    schemaAnswer =
      'Here it is:\n```json\n{"serial": false, "template": "Summarise in one word: {data}", "context": "", "data": ["apple", "banana", "cherry"]}\n```';
    const before = stub.requests.length;
    const r = await solve('Give a one-word summary of apple, of banana and of cherry.', {
      engine: await engine(),
      decompose: 'model',
    });
    expect(r.decomposition).toMatchObject({ source: 'model', schema: { data: ['apple', 'banana', 'cherry'] } });
    expect(r.answer).toBe('apple, banana, cherry');
    expect(stub.requests.slice(before).filter((q) => q.path === '/v1/completions')).toHaveLength(4);
    const extraction = r.decomposition!.extraction!.tokens;
    const parts = r.decomposition!.parts.map((p) => p.tokens);
    expect(extraction).toBeGreaterThan(0);
    expect(r.metrics.totalTokens).toBe(extraction + parts.reduce((s, x) => s + x, 0));
    expect(r.metrics.criticalPathTokens).toBe(extraction + Math.max(...parts));
  });

  it('prose, a wrong field or "serial": the prompt runs as one task and the reason says why', async () => {
    const cases: [string, RegExp][] = [
      ['I think this can be split.', /not JSON: the answer holds no JSON object/],
      ['{"template": "Say {data}", "data": ["only one"]}', /not usable: data: /],
      ['{"template": "Say it", "data": ["a", "b"]}', /not usable: the template must hold \{data\} once/],
      ['{"serial": true}', /no independent inputs/],
    ];
    for (const [answer, reason] of cases) {
      schemaAnswer = answer;
      const r = await solve('Say hello.', { engine: await engine(), decompose: 'model' });
      expect(r.decomposition?.reason, answer).toMatch(reason);
      expect(r.decomposition?.parts).toEqual([]);
    }
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
