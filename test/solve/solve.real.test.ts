import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { solve } from '../../src/solve/solve.js';
import { type SolveResult } from '../../src/solve/types.js';
import { embeddedEngine } from '../../src/engine/load.js';
import type { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { hasSharedFile, readJsonl, sharedDir } from '../support/helpers.js';

interface Row {
  id: string;
  problem: string;
  answer: string;
  family: string;
  parallelizable: boolean;
}

const hasShared = hasSharedFile('benchmarks/arith500.jsonl', 'the 40 arith500 problems on the bundled model');
const rows = hasShared ? readJsonl<Row>(path.join(sharedDir, 'benchmarks/arith500.jsonl')).slice(0, 40) : [];
let engine: TransformersEngine;
beforeAll(async () => {
  engine = await embeddedEngine();
});

describe.skipIf(!hasShared)('bundled model on 40 arith500 problems (greedy)', () => {
  it('parallel mode: ≥38 correct, parallel problems really fork, joined text passes the strict validator', async () => {
    const results: [Row, SolveResult][] = [];
    for (const row of rows) results.push([row, await solve(row.problem, { engine })]);
    const correct = results.filter(([row, r]) => r.answer === row.answer).length;
    console.log(`parallel: ${correct}/40 correct`);
    expect(correct).toBeGreaterThanOrEqual(38);
    for (const [row, r] of results) {
      expect(r.violations, `${row.id}: ${JSON.stringify(r.violations)}`).toEqual([]);
      if (r.metrics.parallelBlocks > 0) {
        const threadCalls = r.trajectory.calls.filter((c) => c.role.kind === 'thread');
        // One engine call per thread, each continuing the same context.
        expect(threadCalls).toHaveLength(r.metrics.threads);
        expect(new Set(threadCalls.map((c) => c.prefixLength)).size).toBe(r.metrics.parallelBlocks);
        expect(r.metrics.criticalPathTokens).toBeLessThan(r.metrics.totalTokens);
      }
    }
    const forked = results.filter(([row, r]) => row.parallelizable && r.metrics.parallelBlocks > 0).length;
    const parallelizable = results.filter(([row]) => row.parallelizable).length;
    expect(forked).toBeGreaterThanOrEqual(parallelizable - 2);
  });

  it('sequential mode: ≥38 correct and no <Parallel>', async () => {
    let correct = 0;
    for (const row of rows) {
      const r = await solve(row.problem, { engine, mode: 'sequential' });
      expect(r.text).not.toContain('<Parallel>');
      expect(r.trajectory.calls.every((c) => c.role.kind === 'sequential')).toBe(true);
      if (r.answer === row.answer) correct++;
    }
    console.log(`sequential: ${correct}/40 correct`);
    expect(correct).toBeGreaterThanOrEqual(38);
  });
});

describe('bundled model: cancellation and odd input', () => {
  it('abort mid-thread stops the batch at the next step, with finishReason abort', async () => {
    const ac = new AbortController();
    let atAbort = -1;
    let deltas = 0;
    const r = await solve('Compute 76*84 + 24*30 + 87*81 + 82*55.', {
      engine,
      signal: ac.signal,
      on: {
        'thread:delta': () => {
          deltas++;
          if (atAbort < 0) {
            atAbort = deltas;
            ac.abort();
          }
        },
      },
    });
    expect(r.finishReason).toBe('abort');
    // Promptness in tokens, not wall time: after the abort at most the rest of that step's batch
    // (one token per other thread) is decoded, then every thread stops.
    const threads = r.trajectory.calls.filter((c) => c.role.kind === 'thread');
    expect(threads.length).toBeGreaterThan(1);
    expect(threads.every((c) => c.finishReason === 'abort')).toBe(true);
    const generated = threads.reduce((s, c) => s + c.completionIds.length, 0);
    expect(generated - atAbort).toBeLessThanOrEqual(threads.length);
  });

  it('non-ASCII text gives a defined result with a warning', async () => {
    const r = await solve('Berechne 12*3 — schnell, s’il vous plaît: 中文', { engine, maxTokens: 300 });
    // Five characters are outside the character vocabulary: —, ’, î, 中, 文.
    expect(r.warnings[0]).toMatch(
      /^5 character\(s\) of the problem are unknown to the .* tokenizer and were read as <unk>$/,
    );
    const unk = engine.tokenizer.singleTokenId('<unk>');
    expect(r.trajectory.promptIds.filter((id) => id === unk)).toHaveLength(5);
    // T counts every token of the trajectory once, and its EOS.
    expect(r.trajectory.ids.length).toBeGreaterThan(0);
    expect(r.metrics.totalTokens).toBe(r.trajectory.ids.length + (r.trajectory.eos ? 1 : 0));
    expect(['done', 'budget', 'context', 'thread-eos']).toContain(r.finishReason);
  });

  it('the budget counts every thread', async () => {
    const r = await solve('Compute 76*84 + 24*30 + 87*81 + 82*55.', { engine, maxTokens: 200 });
    expect(r.finishReason).toBe('budget');
    expect(r.trajectory.calls.reduce((s, c) => s + c.completionIds.length, 0)).toBeLessThanOrEqual(200);
  });
});

describe('bundled model: seeded runs are reproducible', () => {
  it('the same seed gives the same trajectory whatever ran before (prefix cache is per trajectory)', async () => {
    const problem = 'Compute 86*58 + 89*12 - 41*2.';
    const opts = { engine, temperature: 1.5, seed: 7 } as const;
    const first = await solve(problem, opts);
    // Other runs of the same problem leave cached prefixes behind.
    await solve(problem, { ...opts, seed: 8 });
    await solve(problem, { engine, mode: 'sequential' });
    const again = await solve(problem, opts);
    expect(again.text).toBe(first.text);
  });
});

describe('embeddedEngine(): one engine per distinct set of load options', () => {
  it('an engine loaded with the prefix cache on is not handed to a caller who turned it off', async () => {
    const cached = await embeddedEngine();
    const uncached = await embeddedEngine({ prefixCache: false });
    expect(cached.prefixCaching).toBe(true);
    expect(uncached.prefixCaching).toBe(false);
    expect(await embeddedEngine({ prefixCache: false })).toBe(uncached);
    expect(await embeddedEngine({})).toBe(cached);
  });

  it('nor is one with the cascade graph handed to a caller who turned it off or moved its threshold', async () => {
    const cascade = await embeddedEngine();
    const copies = await embeddedEngine({ cascade: false });
    const always = await embeddedEngine({ cascadeMinPrefix: 1 });
    expect(cascade.cascadeFile).not.toBe('');
    expect(copies.cascadeFile).toBe('');
    expect(always).not.toBe(cascade);
    expect(await embeddedEngine({ cascade: false })).toBe(copies);
  });
});
