import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { embeddedEngine } from '../../src/engine/load.js';
import { OpenAIEngine } from '../../src/engine/remote/openai.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { solve } from '../../src/solve/solve.js';

// `threadweaver serve` reports usage.prompt_tokens_details.cached_tokens from the embedded
// engine's prefix cache: exactly the prompt tokens the engine did not compute again, read here
// through the openai client and against the engine's own counter.
let engine: TransformersEngine;
let srv: RunningServer;
let client: OpenAI;
beforeAll(async () => {
  engine = await embeddedEngine();
  srv = await startServer({ engine, modelName: 'tw' });
  client = new OpenAI({ baseURL: srv.baseURL, apiKey: 'none', maxRetries: 0 });
});
afterAll(async () => {
  await srv?.close();
});

const cachedOf = (u: OpenAI.CompletionUsage | undefined) => u?.prompt_tokens_details?.cached_tokens;

describe('serve reports what its prefix cache served', () => {
  it('cached_tokens is the engine’s own count: a repeat reuses all but the last prompt token, a continuation its prefix', async () => {
    engine.clearCache();
    const prompt = buildPrompt(engine.tokenizer, 'Compute 61*17 + 23*45.', 'parallel');
    const n = engine.tokenizer.encode(prompt).length;
    const ask = async (text: string, max: number) => {
      const before = engine.stats.cachedPromptTokens;
      const r = await client.completions.create({ model: 'tw', prompt: text, max_tokens: max, temperature: 0 });
      return { r, engineCounted: engine.stats.cachedPromptTokens - before };
    };
    const first = await ask(prompt, 24);
    expect(cachedOf(first.r.usage)).toBe(0); // a cleared cache holds nothing
    const again = await ask(prompt, 24);
    expect(again.r.usage!.prompt_tokens).toBe(n);
    // A CPU whose graph is not chunk-invariant runs without the cache (TransformersEngine.prefixCaching): 0, honestly.
    if (!engine.prefixCaching) {
      expect(cachedOf(again.r.usage)).toBe(0);
      return;
    }
    // The last prompt token is run again to have its logits; everything before it is reused.
    expect(cachedOf(again.r.usage)).toBe(n - 1);
    expect(again.engineCounted).toBe(n - 1);
    // A prompt that goes on from the first answer reuses the cache the first call left (prompt and answer).
    const longer = await ask(prompt + first.r.choices[0]!.text + '\nSo', 8);
    expect(cachedOf(longer.r.usage)).toBe(longer.engineCounted);
    expect(cachedOf(longer.r.usage)).toBeGreaterThanOrEqual(n);
    expect(cachedOf(longer.r.usage)).toBeLessThan(longer.r.usage!.prompt_tokens);
  });

  it('a remote engine on serve records each call’s cached tokens: thread starts reuse the block’s context', async () => {
    engine.clearCache();
    const remote = await OpenAIEngine.connect({ baseUrl: srv.baseURL });
    const caching = engine.prefixCaching;
    const r = await solve('Compute 37*24 + 18*53 - 29*11.', { engine: remote });
    const threads = r.trajectory.calls.filter((c) => c.role.kind === 'thread');
    expect(threads.length).toBeGreaterThan(1);
    for (const c of r.trajectory.calls) {
      expect(typeof c.usage.cachedPromptTokens).toBe('number');
      expect(c.usage.cachedPromptTokens!).toBeLessThan(c.usage.promptTokens);
    }
    // Every thread's prompt starts with the context the sequential call left in the cache.
    for (const c of threads)
      if (caching) expect(c.usage.cachedPromptTokens!).toBeGreaterThanOrEqual(c.prefixLength - 1);
      else expect(c.usage.cachedPromptTokens).toBe(0);
    const ledger = r.metrics.prefill;
    expect(ledger.phases.threadStarts.calls).toBe(threads.length);
    expect(ledger.phases.threadStarts.cachedPromptTokens).toBe(
      threads.reduce((s, c) => s + c.usage.cachedPromptTokens!, 0),
    );
    expect(ledger.joins.length).toBeGreaterThan(0);
  });
});
