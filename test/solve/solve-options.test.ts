import { describe, expect, it } from 'vitest';
import { solve } from '../../src/solve/solve.js';
import { EOS, rules, ScriptedEngine } from '../support/scripted-engine.js';

const model = rules([/assistant\n$/, `<think>\nok\n</think>\n\\boxed{1}${EOS}`]);

/** The TypeError solve() throws for these options, after checking the engine was never called. */
async function refusal(options: Record<string, unknown>): Promise<string> {
  const engine = new ScriptedEngine(model);
  const err = await solve('Q', { engine, ...options }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TypeError);
  expect(engine.requests).toHaveLength(0);
  return (err as Error).message;
}

describe('solve() options', () => {
  it('a wrong enum value names the option and the allowed values', async () => {
    expect(await refusal({ mode: 'SEQUENTIAL' })).toBe(
      `solve: option 'mode' must be one of 'parallel', 'sequential' (got "SEQUENTIAL")`,
    );
    expect(await refusal({ promptStyle: 'chat' })).toMatch(
      /option 'promptStyle' must be one of 'trained', 'instructed' \(got "chat"\)/,
    );
    expect(await refusal({ engine: undefined, dtype: 'fp16' })).toMatch(
      /option 'dtype' must be one of 'q8', 'fp32' \(got "fp16"\)/,
    );
    expect(await refusal({ prompt: { suffx: ' Box it.' } })).toMatch(/option 'prompt' has no field 'suffx'/);
    expect(await refusal({ prompt: { suffix: 3 } })).toMatch(/option 'prompt.suffix' must be a string \(got 3\)/);
    expect(await refusal({ prompt: { style: 'chat' } })).toMatch(
      /option 'prompt.style' must be one of 'trained', 'instructed'/,
    );
  });

  it('numbers out of range or of the wrong kind', async () => {
    expect(await refusal({ temperature: -0.5 })).toMatch(
      /option 'temperature' must be a number ≥ 0 \(0 is greedy\) \(got -0.5\)/,
    );
    expect(await refusal({ temperature: Number.NaN })).toMatch(/option 'temperature' must be a number ≥ 0/);
    expect(await refusal({ temperature: '0.7' })).toMatch(
      /option 'temperature' must be a number ≥ 0 \(0 is greedy\) \(got "0.7"\)/,
    );
    expect(await refusal({ topP: 0 })).toMatch(/option 'topP' must be a number in \(0, 1\] \(got 0\)/);
    expect(await refusal({ topP: 1.5 })).toMatch(/option 'topP' must be a number in \(0, 1\]/);
    expect(await refusal({ maxTokens: 0 })).toMatch(/option 'maxTokens' must be a whole number ≥ 1 \(got 0\)/);
    expect(await refusal({ maxTokens: 2.5 })).toMatch(/option 'maxTokens' must be a whole number ≥ 1 \(got 2.5\)/);
    expect(await refusal({ contextLimit: -3 })).toMatch(/option 'contextLimit' must be a whole number ≥ 1/);
    expect(await refusal({ maxTransitions: 0 })).toMatch(/option 'maxTransitions'/);
    expect(await refusal({ seed: -1 })).toMatch(/option 'seed' must be a whole number ≥ 0 \(got -1\)/);
    expect(await refusal({ seed: 2 ** 60 })).toMatch(/option 'seed' must be a whole number ≥ 0 up to 2\^53/);
  });

  it('an unknown option is named, with the likely one and the full list', async () => {
    const msg = await refusal({ temprature: 0.5 });
    expect(msg).toMatch(
      /unknown option 'temprature' \(did you mean 'temperature'\?\); the options are mode, maxTokens, contextLimit, maxTransitions, temperature, topP, seed, controls, signal, engine, model, dtype, threads, promptStyle, prompt, extract, system, history, on/,
    );
    expect(await refusal({ max_tokens: 10 })).toMatch(/unknown option 'max_tokens'/);
    expect(await refusal({ history: [{ role: 'system', content: 'x' }] })).toMatch(
      /option 'history\.0\.role'.*"user"\|"assistant"/,
    );
    expect(await refusal({ on: { dleta: () => {} } })).toMatch(
      /option 'on' has no event 'dleta'; the events are phase, delta, outlines/,
    );
    expect(await refusal({ on: { delta: 'print' } })).toMatch(/option 'on.delta' must be a function \(got "print"\)/);
  });

  it('every problem is reported at once; embedded-engine options with an engine are refused', async () => {
    const msg = await refusal({ mode: 'both', temperature: -1, extra: true });
    expect(msg).toMatch(/unknown option 'extra'/);
    expect(msg).toMatch(/option 'mode'/);
    expect(msg).toMatch(/option 'temperature'/);
    expect(await refusal({ model: 'some/model' })).toMatch(
      /'model' choose the embedded engine and cannot be combined with 'engine'/,
    );
    expect(await refusal({ signal: 'stop' })).toMatch(/option 'signal' must be an AbortSignal \(got "stop"\)/);
    const err = await solve('Q', { engine: {} } as never).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/option 'engine' must be an Engine/);
    await expect(solve('Q', 'fast' as never)).rejects.toThrow(/options must be an object \(got "fast"\)/);
  });

  it('valid options pass, undefined ones included', async () => {
    const engine = new ScriptedEngine(model);
    const r = await solve('Q', {
      engine,
      mode: 'sequential',
      maxTokens: 50,
      contextLimit: 10_000,
      maxTransitions: 4,
      temperature: 0,
      topP: 1,
      seed: 0,
      signal: new AbortController().signal,
      promptStyle: 'trained',
      on: { delta: () => {}, done: () => {} },
      model: undefined,
    });
    expect(r.answer).toBe('1');
  });
});
