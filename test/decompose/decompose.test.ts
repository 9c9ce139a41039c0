import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractByRules } from '../../src/decompose/rules.js';
import { partPrompts } from '../../src/decompose/schema.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import { solve } from '../../src/solve/solve.js';
import { startStubServer, type StubServer } from '../support/openai-stub-server.js';
import { EOS, ScriptedEngine } from '../support/scripted-engine.js';

// Prompt-level forks with no model: the rule-based extractor's rules, the model-based extractor
// against an OpenAI-compatible server on 127.0.0.1, and the budget and the joined answer on a
// scripted model. The bundled model runs them in test/solve/decompose.real.test.ts.

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

describe('a decomposed run: the budget and the joined answer', () => {
  const SCHEMA = '{"serial": false, "template": "Say {data} forever.", "context": "", "data": ["a", "b", "c"]}';
  /** The schema request gets SCHEMA; every part writes forever. */
  const endless = (context: string) =>
    context.includes('Read the prompt below') ? `${SCHEMA}${EOS}` : ' more'.repeat(2000);

  it("with decompose: 'model' the extraction's tokens are charged to the budget: maxTokens 300 gives 300 in all", async () => {
    const engine = new ScriptedEngine(endless);
    const extraction = engine.tokenizer.count(SCHEMA);
    const r = await solve('Say a, b and c forever.', { engine, decompose: 'model', maxTokens: 300 });
    expect(r.decomposition!.source).toBe('model');
    expect(r.decomposition!.extraction!.tokens).toBe(extraction);
    // The parts share what the extraction left, in lockstep.
    const left = 300 - extraction;
    expect(r.decomposition!.parts.map((p) => p.tokens)).toEqual(
      [0, 1, 2].map((i) => Math.floor(left / 3) + (i < left % 3 ? 1 : 0)),
    );
    expect(r.metrics.totalTokens).toBe(300);
    expect(r.finishReason).toBe('budget');
    // What each part was offered: the budget the extraction left, no more.
    expect(engine.requests.slice(1).map((q) => q.maxTokens)).toEqual([left, left, left]);
  });

  it('an extraction that finds no schema is charged too: the prompt runs as one task on what it left', async () => {
    const prose = 'I would rather answer it whole.';
    const engine = new ScriptedEngine((context) =>
      context.includes('Read the prompt below') ? `${prose}${EOS}` : ' more'.repeat(2000),
    );
    const r = await solve('Say a, b and c forever.', { engine, decompose: 'model', maxTokens: 300 });
    expect(r.decomposition).toMatchObject({ source: null, extraction: { tokens: engine.tokenizer.count(prose) } });
    const generated = r.trajectory.calls.reduce((n, c) => n + c.completionIds.length, 0);
    expect(r.decomposition!.extraction!.tokens + generated).toBe(300);
    expect(r.finishReason).toBe('budget');
  });

  it('the joined answer is null when one part wrote no answer; else the answers in order', async () => {
    const answers: Record<string, string> = { '37*24': '\\boxed{888}', '18*53': 'no idea', '29*11': '\\boxed{319}' };
    const script = (missing: boolean) => (context: string) => {
      const m = /Compute (\d+\*\d+)\./.exec(context);
      const text = m ? answers[m[1]!]! : '?';
      return `${!missing && text === 'no idea' ? '\\boxed{954}' : text}${EOS}`;
    };
    const partial = await solve(PROMPT, { engine: new ScriptedEngine(script(true)), decompose: 'rules' });
    expect(partial.decomposition!.parts.map((p) => p.answer)).toEqual(['888', null, '319']);
    expect(partial.answer).toBeNull();
    expect(partial.finishReason).toBe('done');
    const whole = await solve(PROMPT, { engine: new ScriptedEngine(script(false)), decompose: 'rules' });
    expect(whole.answer).toBe('888, 954, 319');
  });
});
