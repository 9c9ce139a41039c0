import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArith } from '../../eval/arith.js';
import { TransformersEngine } from '../../src/engine/embedded/transformers.js';
import type { LlamaCppEngine } from '../../src/engine/llama-cpp/engine.js';
import type { GgufWeightType } from '../../src/engine/llama-cpp/convert.js';
import { resolveModelSource } from '../../src/engine/model-source.js';
import { shareBudget } from '../../src/engine/siblings.js';
import type { CompletionResult } from '../../src/engine/types.js';
import { loadTokenizer, type HFTokenizer } from '../../src/engine/tokenizer.js';
import { buildPrompt } from '../../src/orchestrator/prompt.js';
import { callContextIds } from '../../src/orchestrator/trajectory.js';
import { solve } from '../../src/solve/solve.js';
import {
  canRunTinyGguf,
  greedyMisses,
  mostLikely,
  nextTokenProbabilities,
  tinyGguf,
  tinyHfDir,
  tinyLlamaCppEngine,
} from '../support/llama-cpp.js';

// The llama-cpp engine on the tiny model converted to GGUF, against the ONNX engine on the same
// model: the converted file tokenizes and predicts as the original, and the engine keeps the
// semantics every engine shares.
const runs = await canRunTinyGguf('the llama-cpp engine tests');

let onnx: TransformersEngine;
let hf: HFTokenizer;
let engine: LlamaCppEngine;
const opened: LlamaCppEngine[] = [];
const open = async (...args: Parameters<typeof tinyLlamaCppEngine>) => {
  const e = await tinyLlamaCppEngine(...args);
  opened.push(e);
  return e;
};
beforeAll(async () => {
  if (!runs) return;
  onnx = await TransformersEngine.load();
  hf = await loadTokenizer(resolveModelSource());
  engine = await open();
});
afterAll(async () => {
  for (const e of opened) await e.close();
});

const problem = 'Compute 37*24 + 18*53 - 29*11.';
const TAGGED = `<think>
The expression has 3 independent products; compute each, then combine.
<Parallel>
<Outlines>
<Outline>1: Compute 81*51.</Outline>
<Outline>2: Compute 87*38.</Outline>
</Outlines>
<Thread>
1: 81*51 = 81*50 + 81*1 = 4050 + 81 = 4131. So the result is 4131.
</Thread><Thread>
2: 87*38 = 87*30 + 87*8 = 2610 + 696 = 3306.
</Thread>
</Parallel>
</think>
The answer is \\boxed{7437}.<|im_end|>`;

describe.runIf(runs)('the converted tokenizer', () => {
  it('tokenizes exactly as tokenizer.json: tags, special tokens, every printable character, near-tags', () => {
    const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('') + '\n';
    const texts = [
      TAGGED,
      buildPrompt(hf, problem, 'parallel'),
      buildPrompt(hf, problem, 'sequential'),
      ascii,
      '<Thread><Thread></Thread><<Thread>>< Thread>  <thread> <|im_start|><|endoftext|><unk>',
      '</Outlines>\n<Thread>\n10:',
      ' . , ! ? x . y',
    ];
    for (const text of texts) {
      const ids = engine.tokenizer.encode(text);
      expect(ids).toEqual(hf.encode(text));
      expect(engine.tokenizer.decode(ids)).toBe(text);
      expect(engine.tokenizer.decode(ids)).toBe(hf.decode(ids));
    }
    for (const tag of ['<think>', '</Thread>', '</Outlines>', '<|im_end|>', '\n', ':'])
      expect(engine.tokenizer.singleTokenId(tag)).toBe(hf.singleTokenId(tag));
    expect(engine.tokenizer.singleTokenId('<Thread')).toBeUndefined();
    expect(engine.tokenizer.eosIds).toEqual(hf.eosIds);
  });

  it('renders the chat template from the GGUF metadata as the tokenizer does', () => {
    const conversations = [
      [{ role: 'user' as const, content: problem }],
      [
        { role: 'system' as const, content: 'Reason sequentially, without parallel threads.' },
        { role: 'user' as const, content: problem },
      ],
    ];
    for (const messages of conversations) {
      for (const addGenerationPrompt of [true, false])
        expect(engine.tokenizer.applyChatTemplate(messages, { addGenerationPrompt })).toBe(
          hf.applyChatTemplate(messages, { addGenerationPrompt }),
        );
    }
  });
});

/** llama.cpp's greedy prediction after every token of `ids` from `from` on, in one teacher-forced pass. */
async function argmaxes(file: string, ids: readonly number[], from: number): Promise<number[]> {
  return (await nextTokenProbabilities(file, ids, from)).map((p) => mostLikely(p).token);
}

describe.runIf(runs)('the converted weights', () => {
  // Greedy one-pass trajectories of the ONNX engine (the model writes its threads itself), both prompts.
  let sequences: { ids: number[]; prompt: number }[];
  beforeAll(async () => {
    sequences = [];
    for (const task of generateArith(8, 2027)) {
      for (const mode of ['parallel', 'sequential'] as const) {
        const prompt = onnx.tokenizer.encode(buildPrompt(onnx.tokenizer, task.problem, mode));
        const r = await onnx.complete({ prompt, maxTokens: 900 });
        sequences.push({ ids: [...prompt, ...r.ids], prompt: prompt.length });
      }
    }
  });

  const agreement = async (file: string) => {
    let same = 0;
    let total = 0;
    for (const { ids, prompt } of sequences) {
      // The prediction after position i is compared with the ONNX engine's greedy token at i + 1.
      const predicted = await argmaxes(file, ids, prompt - 1);
      const expected = ids.slice(prompt);
      expected.forEach((t, k) => (same += Number(predicted[k] === t)));
      total += expected.length;
    }
    return { rate: same / total, total };
  };

  it.each(['f32', 'f16', 'q8_0'] as GgufWeightType[])(
    '%s: llama.cpp predicts the ONNX engine’s greedy token at ≥ 99.9% of positions',
    async (type) => {
      const { rate, total } = await agreement(await tinyGguf(type));
      expect(total).toBeGreaterThan(3000);
      expect(rate).toBeGreaterThanOrEqual(0.999);
    },
  );

  it('without the Q/K permutation the same file loads but predicts far worse (the negative control)', async () => {
    const { rate } = await agreement(await tinyGguf('f32', { skipRopePermutation: true }));
    expect(rate).toBeLessThan(0.9);
  });
});

describe.runIf(runs)('LlamaCppEngine', () => {
  it('runs fork/join and sequential trajectories greedy in every call, as the ONNX engine does (f32, f16, q8_0)', async () => {
    const f16 = await open({ type: 'f16' });
    const q8 = await open({ type: 'q8_0' });
    const problems = [problem, 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7).', 'Compute (23*4 + 17)*6.'];
    let same = 0;
    let runs = 0;
    for (const p of problems) {
      for (const mode of ['parallel', 'sequential'] as const) {
        const reference = await solve(p, { engine: onnx, mode });
        for (const e of [engine, f16, q8]) {
          const r = await solve(p, { engine: e, mode });
          expect(r.trajectory.calls.length).toBeGreaterThan(0);
          for (const call of r.trajectory.calls)
            await expectGreedy(e, callContextIds(r.trajectory, call), call.completionIds);
          same += Number(r.text === reference.text);
          runs++;
        }
      }
    }
    // Byte-equal to the ONNX engine up to the first near-tie (all of them on the machines tried).
    console.info(`[llama-cpp] trajectories equal to the ONNX engine's: ${same}/${runs}`);
    expect(engine.stats.forkCopies).toBeGreaterThan(0);
  });

  it('stops at a single-token stop and a text stop (kept), at max tokens, and reports EOS', async () => {
    const prompt = buildPrompt(engine.tokenizer, problem, 'parallel');
    const r = await engine.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
    expect(r.finishReason).toBe('stop');
    expect(r.matchedStop).toBe('</Outlines>');
    expect(r.text.endsWith('</Outlines>')).toBe(true);
    expect(engine.tokenizer.decode(r.ids)).toBe(r.text);
    const s = await engine.complete({ prompt, maxTokens: 400, stop: ['independent'] });
    expect([s.finishReason, s.text.endsWith('independent')]).toEqual(['stop', true]);
    const l = await engine.complete({ prompt, maxTokens: 7 });
    expect([l.finishReason, l.ids.length]).toEqual(['length', 7]);
    const e = await engine.complete({ prompt: buildPrompt(engine.tokenizer, problem, 'sequential'), maxTokens: 900 });
    expect(e.finishReason).toBe('eos');
    expect(e.text).not.toContain('<|im_end|>');
    expect(e.text).toContain('\\boxed{1523}');
  });

  /** The context up to the first block's `</Outlines>` and three thread headers. */
  const block = async (e: LlamaCppEngine) => {
    const prompt = buildPrompt(e.tokenizer, problem, 'parallel');
    const head = await e.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
    const prefix = [...e.tokenizer.encode(prompt), ...head.ids];
    const suffixes = ['\n<Thread>\n1:', '\n<Thread>\n2:', '\n<Thread>\n3:'].map((s) => e.tokenizer.encode(s));
    return { prefix, suffixes };
  };

  // llama.cpp rounds differently with how a step is batched (how many rows, a row's place), so
  // rows decoded together and alone are equal only until the first near-tie. What holds on every
  // CPU: each row is a greedy continuation of its own prompt (checked teacher-forced), with its
  // own stops, and the shared budget is spent as lockstepShares says.
  it('siblings in lockstep are each greedy, each stopping on its own, streamed as returned', async () => {
    const { prefix, suffixes } = await block(engine);
    const deltas: string[] = ['', '', ''];
    const batched = await engine.completeSiblings(prefix, suffixes, {
      maxTokens: 200,
      stop: ['</Thread>'],
      onDelta: (i, d) => (deltas[i] += d),
    });
    const reference = await onnx.completeSiblings(prefix, suffixes, { maxTokens: 200, stop: ['</Thread>'] });
    let same = 0;
    for (let i = 0; i < suffixes.length; i++) {
      const prompt = [...prefix, ...suffixes[i]!];
      const alone = await engine.complete({ prompt, maxTokens: 200, stop: ['</Thread>'] });
      for (const r of [batched[i]!, alone]) {
        expect(r.finishReason).toBe('stop');
        expect(r.text.endsWith('</Thread>')).toBe(true);
        await expectGreedy(engine, prompt, r.ids);
      }
      expect(deltas[i]).toBe(batched[i]!.text);
      expect(batched[i]!.usage.promptTokens).toBe(prompt.length);
      same += Number(batched[i]!.text === alone.text) + Number(batched[i]!.text === reference[i]!.text);
    }
    console.info(`[llama-cpp] lockstep rows equal to separate calls and to the ONNX engine: ${same}/6`);
    expect(new Set(batched.map((r) => r.ids.length)).size).toBeGreaterThan(1); // they ended at different steps
  });

  it('rows of one batch never read each other’s logits (sampling is serialized per context), call after call', async () => {
    // Unserialized, node-llama-cpp's sampling workers race on llama.cpp's lazy output reordering
    // and a row now and then takes another row's token; repeated calls give the race its chances.
    const { prefix, suffixes } = await block(engine);
    const four = [...suffixes, engine.tokenizer.encode('\n<Thread>\n4:')];
    for (let round = 0; round < 20; round++) {
      // Another call between rounds reorders the free sequences, so rows sit in sequences out of order.
      await engine.complete({
        prompt: buildPrompt(engine.tokenizer, `Compute ${round + 11}*7.`, 'sequential'),
        maxTokens: 5,
      });
      const rows = await engine.completeSiblings(prefix, four, { maxTokens: 120, stop: ['</Thread>'] });
      for (const [i, r] of rows.entries()) await expectGreedy(engine, [...prefix, ...four[i]!], r.ids);
    }
  });

  it('a shared budget is spent in lockstep, rows in order (as lockstepShares says)', async () => {
    const { prefix, suffixes } = await block(engine);
    const full = await engine.completeSiblings(prefix, suffixes, { maxTokens: 200, stop: ['</Thread>'] });
    const natural = full.reduce((n, r) => n + r.ids.length, 0);
    for (const budget of [0, 1, 50, 100, natural]) {
      const cut = await engine.completeSiblings(prefix, suffixes, {
        maxTokens: 200,
        stop: ['</Thread>'],
        maxTotalTokens: budget,
      });
      expectLockstepCut(cut, budget);
      for (const [i, r] of cut.entries()) await expectGreedy(engine, [...prefix, ...suffixes[i]!], r.ids);
      // Where no near-tie split them, the cut rows are the full ones cut by shareBudget.
      if (cut.every((r, i) => r.ids.every((id, k) => id === full[i]!.ids[k]))) {
        const shares = shareBudget(
          full.map((r) => r.ids.length),
          budget,
        );
        expect(cut.map((r) => r.ids.length)).toEqual(shares);
      }
    }
  });

  it('more siblings than sequences decode in waves, each row greedy, the shared budget cut in lockstep', async () => {
    const small = await open({ sequences: 2 });
    const { prefix, suffixes } = await block(engine);
    for (const maxTotalTokens of [undefined, 70]) {
      const request = { maxTokens: 200, stop: ['</Thread>'], ...(maxTotalTokens ? { maxTotalTokens } : {}) };
      const waves = await small.completeSiblings(prefix, suffixes, request);
      for (const [i, r] of waves.entries()) await expectGreedy(small, [...prefix, ...suffixes[i]!], r.ids);
      if (maxTotalTokens === undefined) expect(waves.map((r) => r.finishReason)).toEqual(['stop', 'stop', 'stop']);
      else expectLockstepCut(waves, maxTotalTokens);
    }
    expect(small.stats.waves).toBe(2);
  });

  it('forking by evaluating the prefix again, or by the state copy, gives greedy rows', async () => {
    const evaluating = await open({ fork: 'evaluate' });
    const { prefix, suffixes } = await block(engine);
    const copies = engine.stats.forkCopies;
    await engine.clearCache();
    await block(engine);
    const copied = await engine.completeSiblings(prefix, suffixes, { maxTokens: 200, stop: ['</Thread>'] });
    const evaluated = await evaluating.completeSiblings(prefix, suffixes, { maxTokens: 200, stop: ['</Thread>'] });
    for (const [i, suffix] of suffixes.entries()) {
      await expectGreedy(engine, [...prefix, ...suffix], copied[i]!.ids);
      await expectGreedy(evaluating, [...prefix, ...suffix], evaluated[i]!.ids);
    }
    expect(engine.stats.forkCopies).toBeGreaterThan(copies);
    expect(evaluating.stats.forkCopies).toBe(0);
    expect(evaluating.stats.forkEvaluations).toBeGreaterThan(0);
  });

  it('reuses the prefix a sequence holds: a continuation evaluates only what is new', async () => {
    const fresh = await open();
    const prompt = fresh.tokenizer.encode(buildPrompt(fresh.tokenizer, problem, 'parallel'));
    const first = await fresh.complete({ prompt, maxTokens: 60 });
    const before = fresh.stats.prefillTokens;
    const next = await fresh.complete({ prompt: [...prompt, ...first.ids], maxTokens: 60 });
    // Everything but the first call's last token (sampled, never evaluated) was in the cache.
    expect(next.usage.cachedPromptTokens).toBe(prompt.length + first.ids.length - 1);
    expect(fresh.stats.prefillTokens - before).toBe(1);
    await expectGreedy(fresh, prompt, [...first.ids, ...next.ids]);
  });

  it('seeds: a seeded sampled run repeats; siblings get their own streams; both samplers', async () => {
    const nativeSampler = await open({ sampler: 'llama.cpp' });
    const { prefix, suffixes } = await block(engine);
    for (const e of [engine, nativeSampler]) {
      const request = { maxTokens: 60, stop: ['</Thread>'], temperature: 3, seed: 42 };
      const a = await e.completeSiblings(prefix, [suffixes[0]!, suffixes[0]!, suffixes[0]!], request);
      const b = await e.completeSiblings(prefix, [suffixes[0]!, suffixes[0]!, suffixes[0]!], request);
      expect(b.map((r) => r.text)).toEqual(a.map((r) => r.text));
      expect(new Set(a.map((r) => r.text)).size).toBeGreaterThan(1);
      const own = await e.completeSiblings(prefix, [suffixes[0]!, suffixes[0]!], {
        ...request,
        seeds: [7, 7],
      });
      expect(own[0]!.text).toBe(own[1]!.text);
    }
  });

  // The same weights on both sides: the fp32 ONNX graph beside the weights the GGUF file was made of.
  const fp32Graph = path.join(tinyHfDir(), 'onnx/model.onnx');
  it.runIf(existsSync(fp32Graph))(
    'the threadweaver sampler draws what the fp32 ONNX engine draws for the same seed',
    async () => {
      const fp32 = await TransformersEngine.load({ model: tinyHfDir(), dtype: 'fp32' });
      const prompt = fp32.tokenizer.encode(buildPrompt(fp32.tokenizer, problem, 'parallel'));
      let same = 0;
      const drawn = new Set<number>();
      const seeds = Array.from({ length: 20 }, (_, i) => 1000 + i);
      for (const seed of seeds) {
        // A hot temperature spreads the first token over many candidates.
        const request = { prompt, maxTokens: 1, temperature: 4, topP: 0.95, seed };
        const [a, b] = [await fp32.complete(request), await engine.complete(request)];
        same += Number(a.ids[0] === b.ids[0]);
        drawn.add(a.ids[0]!);
      }
      expect(drawn.size).toBeGreaterThan(3);
      // Equal up to a draw falling within float error of a boundary between two tokens.
      expect(same).toBeGreaterThanOrEqual(seeds.length - 1);
    },
  );

  it('aborts between steps, keeping what was generated', async () => {
    const abort = new AbortController();
    let n = 0;
    const r = await engine.complete({
      prompt: buildPrompt(engine.tokenizer, problem, 'parallel'),
      maxTokens: 300,
      signal: abort.signal,
      onDelta: () => {
        if (++n === 5) abort.abort();
      },
    });
    expect(r.finishReason).toBe('abort');
    expect(r.ids).toHaveLength(5);
  });

  it('cuts completions to the context and refuses a prompt that does not fit', async () => {
    const short = await open({ contextLength: 256 });
    const prompt = short.tokenizer.encode(buildPrompt(short.tokenizer, problem, 'parallel'));
    const r = await short.complete({ prompt, maxTokens: 900 });
    expect(r.finishReason).toBe('length');
    expect(prompt.length + r.ids.length).toBe(256);
    await expect(short.complete({ prompt: new Array<number>(256).fill(20), maxTokens: 1 })).rejects.toThrow(
      /prompt of 256 tokens does not fit the context of 256/,
    );
  });

  it('concurrent calls share the sequences: more calls than sequences wait their turn, results unchanged', async () => {
    const two = await open({ sequences: 2 });
    const problems = generateArith(5, 9).map((t) => buildPrompt(two.tokenizer, t.problem, 'sequential'));
    const alone: string[] = [];
    for (const prompt of problems) alone.push((await engine.complete({ prompt, maxTokens: 120 })).text);
    const together = await Promise.all(problems.map((prompt) => two.complete({ prompt, maxTokens: 120 })));
    for (const [i, r] of together.entries()) {
      expect(r.ids.length).toBeGreaterThan(0);
      await expectGreedy(two, two.tokenizer.encode(problems[i]!), r.ids);
    }
    const same = together.filter((r, i) => r.text === alone[i]).length;
    console.info(`[llama-cpp] concurrent calls equal to calls alone: ${same}/${alone.length}`);
  });
});

/** Every token of a greedy completion is llama.cpp's first choice, up to rounding (see greedyMisses). */
async function expectGreedy(e: LlamaCppEngine, context: readonly number[], ids: readonly number[]): Promise<void> {
  const misses = await greedyMisses(e.loaded.file, context, ids);
  expect(misses, `not greedy at ${JSON.stringify(misses.slice(0, 3))}`).toEqual([]);
}

/**
 * Sibling results cut by one budget spent in lockstep: at each step every live row takes a token
 * in row order until the budget is gone, so the rows it cut are one step apart at most, earlier
 * rows ahead, and the rows that stopped by themselves stopped before the cut.
 */
function expectLockstepCut(results: readonly CompletionResult[], budget: number): void {
  const lengths = results.map((r) => r.ids.length);
  const total = lengths.reduce((a, b) => a + b, 0);
  expect(total).toBeLessThanOrEqual(budget);
  const cut = results.flatMap((r, i) => (r.finishReason === 'length' ? [i] : []));
  if (cut.length === 0) return;
  expect(total).toBe(budget);
  const longest = Math.max(...cut.map((i) => lengths[i]!));
  for (const [n, i] of cut.entries()) {
    expect(lengths[i]! === longest || lengths[i]! === longest - 1).toBe(true);
    if (n > 0 && lengths[i]! === longest) expect(lengths[cut[n - 1]!]).toBe(longest);
  }
  for (const [i, r] of results.entries()) if (!cut.includes(i)) expect(r.ids.length).toBeLessThan(longest + 1);
}
