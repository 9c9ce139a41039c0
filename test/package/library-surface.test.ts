import { BadRequestError, InternalServerError } from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import {
  OpenAIEngine,
  RetriesExhaustedError,
  solve,
  solveStream,
  SolveError,
  ThreadweaverError,
  type ControllerEvent,
  type ControllerEvents,
  type SolveEvent,
} from '../../src/index.js';
import { stubServers } from '../support/openai-stub-server.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';

// What a library user sees: errors that keep the engine's own error, and the two ways to follow a run.

let tok: HFTokenizer;
beforeAll(async () => {
  tok = await loadTokenizer(resolveModelSource());
});
const stub = stubServers();

describe('SolveError keeps the engine error as its cause', () => {
  it('a 400 from the server: the cause is the openai client error with its status', async () => {
    const s = await stub(() => ({
      status: 400,
      json: { error: { message: 'prompt too long for this model', type: 'BadRequestError' } },
    }));
    const engine = await OpenAIEngine.connect({ baseUrl: s.url, tokenizer: tok });
    const err = await solve('Compute 2+3.', { engine }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SolveError);
    expect(err).toBeInstanceOf(ThreadweaverError);
    const cause = (err as SolveError).cause;
    expect(cause).toBeInstanceOf(BadRequestError);
    expect((cause as BadRequestError).status).toBe(400);
    expect((err as SolveError).message).toContain('prompt too long for this model');
    expect((err as SolveError).trajectory.finishReason).toBe('error');
  });

  it('a server that keeps failing: the cause is RetriesExhaustedError, whose cause is the last 503', async () => {
    const s = await stub(() => ({ status: 503, json: { error: { message: 'overloaded' } } }));
    const engine = await OpenAIEngine.connect({
      baseUrl: s.url,
      tokenizer: tok,
      maxRetries: 1,
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    });
    const err = await solve('Compute 2+3.', { engine }).catch((e: unknown) => e);
    const cause = (err as SolveError).cause;
    expect(cause).toBeInstanceOf(RetriesExhaustedError);
    expect(cause).toBeInstanceOf(ThreadweaverError);
    expect((cause as RetriesExhaustedError).attempts).toBe(2);
    expect((cause as RetriesExhaustedError).cause).toBeInstanceOf(InternalServerError);
  });
});

describe('SolveError of a prompt-level fork keeps its cause too', () => {
  it('the sibling batch fails: the cause is the engine error, and the listeners heard it', async () => {
    const heard: string[] = [];
    const engine = new ScriptedEngine(() => `ok${EOS}`, { failOnCall: 0 });
    const err = await solve('Compute each of: 1+1; 2+2.', {
      engine,
      decompose: 'rules',
      on: { error: (e) => heard.push(e.error.message) },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SolveError);
    expect(((err as SolveError).cause as Error).message).toBe('scripted failure');
    expect(heard).toEqual(['scripted failure']);
  });
});

describe('solveStream and listeners see the same tagged events', () => {
  const model = rules(
    [/<Thread>\n1:$/, ' a = 1.\n</Thread>'],
    [/<Thread>\n2:$/, ' b = 2.\n</Thread>'],
    [/<\/Thread>\n$/, `</Parallel>\nSo 3.\n</think>\n\\boxed{3}${EOS}`],
    [
      /assistant\n$/,
      '<think>\n<Parallel>\n<Outlines>\n<Outline>1: A.</Outline>\n<Outline>2: B.</Outline>\n</Outlines>',
    ],
  );

  it('in one order, each tagged with its name, ending with the result', async () => {
    const heard: object[] = [];
    const on: Partial<ControllerEvents> = { 'thread:end': (e) => heard.push(e), join: (e) => heard.push(e) };
    const streamed: SolveEvent[] = [];
    for await (const e of solveStream('Q', { engine: new ScriptedEngine(model), on })) streamed.push(e);
    const last = streamed.at(-1)!;
    expect(last.type).toBe('result');
    if (last.type !== 'result') return;
    expect(last.result.answer).toBe('3');
    // The listeners got the very events the stream yields (tag included).
    expect(heard).toEqual(streamed.filter((e) => e.type === 'thread:end' || e.type === 'join'));
    expect(heard.map((e) => (e as ControllerEvent).type)).toEqual(['thread:end', 'thread:end', 'join']);
    const texts = streamed.flatMap((e) => (e.type === 'text' ? [e.text] : []));
    expect(texts.join('')).toBe(last.result.text);
    expect(
      streamed.filter((e) => e.type === 'thread:start').map((e) => (e.type === 'thread:start' ? e.thread : '')),
    ).toEqual(['1', '2']);
  });

  it('an engine failure is thrown from the loop as SolveError with its cause', async () => {
    const stream = solveStream('Q', { engine: new ScriptedEngine(model, { failOnCall: 1 }) });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of stream) seen.push(e.type);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SolveError);
    expect(((err as SolveError).cause as Error).message).toBe('scripted failure');
    expect(seen).toContain('error');
    expect(seen).not.toContain('result');
  });
});
