import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CASCADE_MIN_PREFIX, TransformersEngine } from '../../src/engine/embedded/transformers.js';
import { MODEL_FOLDER_FILES, resolveModelSource } from '../../src/engine/model-source.js';
import { cutResult, shareBudget } from '../../src/engine/siblings.js';
import type { CompletionResult } from '../../src/engine/types.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { FLAT_TEMPERATURE } from '../support/helpers.js';

// The embedded engine on the real bundled model (vendored in the repo: runs everywhere).
let engine: TransformersEngine;
let noCache: TransformersEngine;
beforeAll(async () => {
  engine = await TransformersEngine.load();
  noCache = await TransformersEngine.load({ prefixCache: false });
});

const problem = 'Compute 37*24 + 18*53 - 29*11.';

describe('TransformersEngine', () => {
  it('stops at a single-token stop, keeps it, and keeps the sampled ids', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const r = await engine.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
    expect(r.finishReason).toBe('stop');
    expect(r.matchedStop).toBe('</Outlines>');
    expect(r.text.endsWith('</Outlines>')).toBe(true);
    expect(r.text.startsWith('<think>\n')).toBe(true);
    expect(engine.tokenizer.decode(r.ids)).toBe(r.text);
    expect(r.usage.completionTokens).toBe(r.ids.length);
  });

  it('stops at a multi-token text stop and at max tokens, and reports EOS', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const s = await engine.complete({ prompt, maxTokens: 400, stop: ['independent'] });
    expect(s.finishReason).toBe('stop');
    expect(s.text.endsWith('independent')).toBe(true);
    const l = await engine.complete({ prompt, maxTokens: 7 });
    expect(l.finishReason).toBe('length');
    expect(l.ids).toHaveLength(7);
    const e = await engine.complete({ prompt: buildPrompt(engine.tokenizer, problem, 'sequential'), maxTokens: 900 });
    expect(e.finishReason).toBe('eos');
    expect(e.text).not.toContain('<|im_end|>');
    expect(e.text).toContain('\\boxed{1523}');
  });

  it('siblings decoded in one batch equal separate greedy completions, each stopping on its own', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const head = await engine.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
    const prefix = [...engine.tokenizer.encode(prompt), ...head.ids];
    // Threads of unequal header length (1 vs 10) exercise the padded batch.
    const suffixes = ['\n<Thread>\n1:', '\n<Thread>\n2:', '\n<Thread>\n3:'].map((s) => engine.tokenizer.encode(s));
    const batched = await engine.completeSiblings(prefix, suffixes, { maxTokens: 200, stop: ['</Thread>'] });
    for (let i = 0; i < suffixes.length; i++) {
      const alone = await noCache.complete({
        prompt: [...prefix, ...suffixes[i]!],
        maxTokens: 200,
        stop: ['</Thread>'],
      });
      expect(batched[i]!.text).toBe(alone.text);
      expect(batched[i]!.finishReason).toBe('stop');
    }
    expect(new Set(batched.map((b) => b.ids.length)).size).toBeGreaterThan(1);
    expect(batched[0]!.usage.cachedPromptTokens).toBeGreaterThan(0);
    // A padded row (header of another length) decodes the same as alone.
    const padded = await engine.completeSiblings(
      prefix,
      [engine.tokenizer.encode('\n<Thread>\n1:'), engine.tokenizer.encode('\n<Thread>\n12:')],
      { maxTokens: 200, stop: ['</Thread>'] },
    );
    const alone = await noCache.complete({
      prompt: [...prefix, ...engine.tokenizer.encode('\n<Thread>\n1:')],
      maxTokens: 200,
      stop: ['</Thread>'],
    });
    expect(padded[0]!.text).toBe(alone.text);
  });

  it('shares a budget across siblings', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const head = await engine.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
    const prefix = [...engine.tokenizer.encode(prompt), ...head.ids];
    const suffixes = ['1', '2', '3'].map((n) => engine.tokenizer.encode(`\n<Thread>\n${n}:`));
    const r = await engine.completeSiblings(prefix, suffixes, {
      maxTokens: 200,
      maxTotalTokens: 50,
      stop: ['</Thread>'],
    });
    expect(r.reduce((s, x) => s + x.ids.length, 0)).toBeLessThanOrEqual(50);
    expect(r.every((x) => x.finishReason === 'length')).toBe(true);
    // The batch spends the budget in lockstep: the same tokens as uncapped siblings cut by
    // shareBudget afterwards (what remote engines do), for budgets that end mid-step, at a
    // finished thread, and past every thread's end.
    const free = await noCache.completeSiblings(prefix, suffixes, { maxTokens: 200, stop: ['</Thread>'] });
    const lengths = free.map((x) => x.ids.length);
    const sum = lengths.reduce((a, b) => a + b, 0);
    for (const total of [50, 3 * Math.min(...lengths) + 1, sum - 1, sum, sum + 5]) {
      const capped = await noCache.completeSiblings(prefix, suffixes, {
        maxTokens: 200,
        maxTotalTokens: total,
        stop: ['</Thread>'],
      });
      const cut = shareBudget(lengths, total).map((k, i) =>
        cutResult(free[i]!, k, (ids) => engine.tokenizer.decode(ids)),
      );
      expect(
        capped.map((x) => [x.text, x.finishReason]),
        `total ${total}`,
      ).toEqual(cut.map((x) => [x.text, x.finishReason]));
    }
  });

  it('seeded sampling is reproducible and seeds differ', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const run = (seed: number, temperature: number) => engine.complete({ prompt, maxTokens: 150, temperature, seed });
    const a = await run(1, 2);
    const b = await run(1, 2);
    expect(a.text).toBe(b.text);
    // Different seeds give different texts where that is certain on any CPU (FLAT_TEMPERATURE).
    const flat = await Promise.all([1, 2, 3, 4, 5].map((seed) => run(seed, FLAT_TEMPERATURE)));
    expect(new Set(flat.map((x) => x.text)).size).toBe(5);
  });

  it('siblings with empty suffixes continue the prefix itself, each with its own seed', async () => {
    const prompt = engine.tokenizer.encode(buildPrompt(engine.tokenizer, problem, 'parallel'));
    const seeds = [3, 2 ** 40];
    const rows = await engine.completeSiblings(prompt, [[], []], { maxTokens: 40, temperature: 1.5, seeds });
    for (const [i, seed] of seeds.entries()) {
      const alone = await noCache.complete({ prompt, maxTokens: 40, temperature: 1.5, seed });
      expect(rows[i]!.ids).toEqual(alone.ids);
      expect(rows[i]!.usage.promptTokens).toBe(prompt.length);
    }
  });

  it('a temperature below 1e-5 is greedy (1e-308 used to overflow into the last token, `~`)', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const greedy = await noCache.complete({ prompt, maxTokens: 60 });
    for (const temperature of [1e-308, 1e-6]) {
      const r = await noCache.complete({ prompt, maxTokens: 60, temperature, seed: 1 });
      expect(r.ids).toEqual(greedy.ids);
    }
    expect(greedy.text).not.toMatch(/~~/);
  });

  it('seeds that differ only above bit 32 sample different texts', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const run = (seed: number) => noCache.complete({ prompt, maxTokens: 150, temperature: FLAT_TEMPERATURE, seed });
    const [a, b, c] = [await run(0), await run(2 ** 32), await run(2 ** 32)];
    expect(b.text).toBe(c.text);
    expect(a.text).not.toBe(b.text);
  });

  it('aborts at the next token', async () => {
    const ac = new AbortController();
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    let seen = 0;
    // Promptness in tokens, not wall time: aborted while the 5th token is handed out, it decodes no 6th.
    const r = await engine.complete({
      prompt,
      maxTokens: 900,
      signal: ac.signal,
      onDelta: () => ++seen === 5 && ac.abort(),
    });
    expect(r.finishReason).toBe('abort');
    expect(r.ids).toHaveLength(5);
    expect(seen).toBe(5);
  });

  it('rejects a prompt longer than the context', async () => {
    await expect(engine.complete({ prompt: 'x'.repeat(1100), maxTokens: 5 })).rejects.toThrow(
      /does not fit the context/,
    );
  });
});

describe('model sources', () => {
  it('a missing folder is a clear error', async () => {
    expect(() => resolveModelSource('./no/such/model')).toThrow(/folder not found/);
    await expect(TransformersEngine.load({ model: '/tmp/definitely-missing-model' })).rejects.toThrow(
      /folder not found/,
    );
  });
  it('a folder that is not a model is a clear error', () => {
    expect(() => resolveModelSource('test')).toThrow(/neither config.json nor tokenizer.json/);
  });
  it('a hub id offline is a clear error that says how to use a local folder', async () => {
    await expect(TransformersEngine.load({ model: 'nobody-xyz/not-a-model' })).rejects.toThrow(/local folder/);
  }, 60_000);
});

describe('graph files', () => {
  it('loads the rewritten graph by default; the exported one still loads and solves', async () => {
    expect(engine.graphFile).toBe('onnx/model_append_quantized.onnx');
    const original = await TransformersEngine.load({ graph: 'original', prefixCache: false });
    expect(original.graphFile).toBe('onnx/model_quantized.onnx');
    // Per-token instead of per-tensor activation scales change low bits, not the answer.
    const prompt = buildPrompt(engine.tokenizer, 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7).', 'sequential');
    const a = await original.complete({ prompt, maxTokens: 900 });
    const b = await noCache.complete({ prompt, maxTokens: 900 });
    expect(a.text).toContain('\\boxed{227}');
    expect(b.text).toContain('\\boxed{227}');
  });
});

describe('cascade attention for sibling calls', () => {
  // Every sibling call on the cascade graph, whatever its prefix (the default skips short ones).
  let cascadeAll: TransformersEngine;
  beforeAll(async () => {
    cascadeAll = await TransformersEngine.load({ prefixCache: false, cascadeMinPrefix: 1 });
  });
  // Headers of one token length, so each row's padding is the same in every batch below.
  const headers = ['1', '2', '3'].map((n) => `\n<Thread>\n${n}:`);
  const blockPrefix = async () => {
    const prompt = buildPrompt(engine.tokenizer, 'Compute 76*83 + 59*97 - 20*94.', 'parallel');
    const head = await noCache.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
    return [...engine.tokenizer.encode(prompt), ...head.ids];
  };

  it('is loaded beside the appending graph, off on request, and run for sibling calls whose prefix is long enough', async () => {
    expect(engine.cascadeFile).toBe('onnx/model_cascade_quantized.onnx');
    expect((await TransformersEngine.load({ cascade: false, prefixCache: false })).cascadeFile).toBe('');
    const prefix = await blockPrefix();
    const suffixes = headers.map((h) => engine.tokenizer.encode(h));
    const request = { maxTokens: 60, stop: ['</Thread>'], temperature: 1.3, seeds: [4, 5, 6] };
    // Below the default minimum the rows decode on copies of the prefix: the same bits as without the cascade graph.
    expect(prefix.length).toBeLessThan(DEFAULT_CASCADE_MIN_PREFIX);
    const before = noCache.stats.cascadeCalls;
    const short = await noCache.completeSiblings(prefix, suffixes, request);
    expect(noCache.stats.cascadeCalls).toBe(before);
    const copies = await TransformersEngine.load({ cascade: false, prefixCache: false });
    expect(short.map((r) => r.ids)).toEqual(
      (await copies.completeSiblings(prefix, suffixes, request)).map((r) => r.ids),
    );
    const long = await TransformersEngine.load({ prefixCache: false, cascadeMinPrefix: prefix.length });
    await long.completeSiblings(prefix, suffixes, request);
    await long.completeSiblings(prefix.slice(0, -1), suffixes, request);
    expect(long.stats.cascadeCalls).toBe(1);
  });

  it('a row decodes the same tokens alone and in batches of other compositions (seeded, rows leaving as they finish)', async () => {
    const prefix = await blockPrefix();
    const suffixes = headers.map((h) => engine.tokenizer.encode(h));
    expect(new Set(suffixes.map((s) => s.length)).size).toBe(1);
    const request = { maxTokens: 150, stop: ['</Thread>'], temperature: 1.3 };
    // Rows that leave the batch at different steps. Which seeds sample such rows follows the CPU's
    // arithmetic, so this takes the first of a few seed sets that do.
    const lengths = (rows: CompletionResult[]) => new Set(rows.map((r) => r.ids.length)).size;
    let seeds: number[] = [];
    let all: CompletionResult[] = [];
    for (let k = 0; k < 10 && lengths(all) < 2; k++) {
      seeds = [11, 22, 33].map((s) => s + 100 * k);
      all = await cascadeAll.completeSiblings(prefix, suffixes, { ...request, seeds });
    }
    expect(lengths(all)).toBeGreaterThan(1);
    const calls = cascadeAll.stats.cascadeCalls;
    const alone = await cascadeAll.completeSiblings(prefix, [suffixes[1]!], { ...request, seeds: [seeds[1]!] });
    const reordered = await cascadeAll.completeSiblings(prefix, [suffixes[2]!, suffixes[1]!], {
      ...request,
      seeds: [seeds[2]!, seeds[1]!],
    });
    expect(cascadeAll.stats.cascadeCalls).toBe(calls + 2);
    expect(alone[0]!.ids).toEqual(all[1]!.ids);
    expect(reordered[1]!.ids).toEqual(all[1]!.ids);
    expect(reordered[0]!.ids).toEqual(all[2]!.ids);
  });

  it('a folder without the cascade graph decodes siblings on copies of the prefix; a cascade graph that fails its check is refused with a warning', async () => {
    const bundled = resolveModelSource();
    if (bundled.kind !== 'local') throw new Error('the bundled model is a local folder');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-cascade-'));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const folder = (name: string, cascade?: string) => {
        const dir = path.join(tmp, name);
        mkdirSync(path.join(dir, 'onnx'), { recursive: true });
        for (const f of MODEL_FOLDER_FILES) copyFileSync(path.join(bundled.dir, f), path.join(dir, f));
        copyFileSync(
          path.join(bundled.dir, 'onnx/model_append_quantized.onnx'),
          path.join(dir, 'onnx/model_append_quantized.onnx'),
        );
        if (cascade) copyFileSync(path.join(bundled.dir, cascade), path.join(dir, 'onnx/model_cascade_quantized.onnx'));
        return dir;
      };
      const without = await TransformersEngine.load({
        model: folder('without'),
        prefixCache: false,
        cascadeMinPrefix: 1,
      });
      expect(without.cascadeFile).toBe('');
      const plain = await TransformersEngine.load({ cascade: false, prefixCache: false });
      const prefix = await blockPrefix();
      const suffixes = headers.map((h) => engine.tokenizer.encode(h));
      const request = { maxTokens: 100, stop: ['</Thread>'] };
      expect((await without.completeSiblings(prefix, suffixes, request)).map((r) => r.ids)).toEqual(
        (await plain.completeSiblings(prefix, suffixes, request)).map((r) => r.ids),
      );
      // The appending graph where the cascade graph should be: no shared-prefix inputs.
      const broken = await TransformersEngine.load({
        model: folder('broken', 'onnx/model_append_quantized.onnx'),
        prefixCache: false,
        cascadeMinPrefix: 1,
      });
      await new Promise((r) => setImmediate(r));
      expect(broken.cascadeFile).toBe('');
      expect(warnings.map((w) => `${(w as Error & { code?: string }).code}: ${w.message}`).join('\n')).toMatch(
        /THREADWEAVER_CASCADE_OFF: .*no shared-prefix inputs/,
      );
      expect((await broken.completeSiblings(prefix, suffixes, request)).map((r) => r.ids)).toEqual(
        (await plain.completeSiblings(prefix, suffixes, request)).map((r) => r.ids),
      );
    } finally {
      process.off('warning', onWarning);
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('greedy sibling texts are those of sibling rows on copies of the prefix', async () => {
    const plain = await TransformersEngine.load({ cascade: false, prefixCache: false });
    for (const problem of ['Compute 37*24 + 18*53 - 29*11.', 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7).']) {
      const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
      const head = await plain.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
      const prefix = [...engine.tokenizer.encode(prompt), ...head.ids];
      const suffixes = ['1', '2', '3', '12'].map((n) => engine.tokenizer.encode(`\n<Thread>\n${n}:`));
      const request = { maxTokens: 200, stop: ['</Thread>'] };
      const copies = await plain.completeSiblings(prefix, suffixes, request);
      const cascade = await cascadeAll.completeSiblings(prefix, suffixes, request);
      expect(
        cascade.map((r) => r.text),
        problem,
      ).toEqual(copies.map((r) => r.text));
    }
  });
});
