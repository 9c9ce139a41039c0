import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODEL_FOLDER_FILES } from '../../src/engine/model-source.js';
import { loadPreset } from '../../src/solve/preset.js';
import { solve } from '../../src/solve/solve.js';
import { threadweaver } from '../support/cli.js';
import { hasSharedFile, sharedDir } from '../support/helpers.js';

describe('threadweaver solve', () => {
  it('--json prints one object with the answer, text and metrics', async () => {
    const r = await threadweaver('solve', '--json', 'Compute 37*24 + 18*53 - 29*11.');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.answer).toBe('1523');
    expect(out.text).toContain('</Parallel>');
    expect(out.metrics.totalTokens).toBeGreaterThan(out.metrics.criticalPathTokens);
    expect(out.metrics.parallelBlocks).toBe(1);
    expect(out.metrics.threads).toBe(3);
    expect(out.metrics.wallMs).toBeGreaterThan(0);
    expect(out.metrics.parallelWidth).toBeCloseTo(out.metrics.totalTokens / out.metrics.criticalPathTokens, 10);
    expect(out.metrics).not.toHaveProperty('speedup');
  });

  it('--compare runs both modes and prints the speedup against the sequential run; --json nests both results', async () => {
    const problem = 'Compute 37*24 + 18*53 - 29*11.';
    const text = await threadweaver('solve', '--compare', problem);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /── parallel ──[\s\S]*parallel block 1: 3 threads[\s\S]*Answer: 1523\n[\s\S]*── sequential ──[\s\S]*Answer: 1523\n/,
    );
    const tokens = /tokens +([\d.]+)× +\(sequential T (\d+) ÷ parallel L (\d+)\)/.exec(text.stdout);
    expect(tokens, text.stdout).not.toBeNull();
    expect(Number(tokens![1])).toBeCloseTo(Number(tokens![2]) / Number(tokens![3]), 2);
    expect(text.stdout).toMatch(/wall clock +[\d.]+× +\([\d.]+ s ÷ [\d.]+ s\)/);
    expect(text.stdout).toMatch(/decode only +[\d.]+×/);
    // The bundled model's sequential prompt carries a system prompt the parallel one does not.
    expect(text.stdout).toMatch(/the prompts differ: parallel \d+ tokens, sequential \d+/);

    const json = await threadweaver('solve', '--compare', '--json', problem);
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(Object.keys(out).sort()).toEqual(['parallel', 'sequential', 'speedup']);
    expect(out.parallel.mode).toBe('parallel');
    expect(out.sequential.mode).toBe('sequential');
    expect(out.parallel.answer).toBe('1523');
    expect(out.sequential.metrics.parallelBlocks).toBe(0);
    expect(out.speedup.tokens).toBeCloseTo(
      out.sequential.metrics.totalTokens / out.parallel.metrics.criticalPathTokens,
      10,
    );
    expect(out.speedup.wallClock).toBeCloseTo(out.sequential.metrics.wallMs / out.parallel.metrics.wallMs, 10);
    expect(out.parallel.metrics.prefillMs).toBeGreaterThan(0);
    expect(out.sequential.metrics.promptTokens).toBeGreaterThan(out.parallel.metrics.promptTokens);

    const both = await threadweaver('solve', '--compare', '--mode', 'parallel', problem);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--compare runs both modes/);
  });

  it('no answer: exit 1 and the reason on stderr (a prompt longer than the context, a spent budget); format violations are shown', async () => {
    const long = `Compute ${Array.from({ length: 300 }, () => '12*34').join(' + ')}.`; // 2,425 tokens with the chat template
    const ctx = await threadweaver('solve', long);
    expect(ctx.code).toBe(1);
    expect(ctx.stderr).toMatch(
      /threadweaver solve: no answer: the prompt is 2,425 tokens and the model's context is 1,024/,
    );
    const budget = await threadweaver('solve', '--max-tokens', '20', 'Compute 37*24 + 18*53 - 29*11.');
    expect(budget.code).toBe(1);
    expect(budget.stderr).toMatch(/no answer: the response budget of 20 tokens ran out before a final answer/);
    expect(budget.stdout).toMatch(/Answer: \(none\)/);
    expect(budget.stdout).toMatch(
      /Format: 1 violation of the trajectory format\n {2}- think-unclosed at offset 0: <think> is never closed/,
    );
    const json = await threadweaver('solve', '--json', '--max-tokens', '20', 'Compute 37*24.');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).finishReason).toBe('budget');
  });

  it('--compare with --preset: the preset is named in both results, its budget ends both runs, and a flag overrides it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tw-solve-preset-'));
    try {
      const file = path.join(dir, 'tiny-short.json');
      await writeFile(file, JSON.stringify({ ...loadPreset('tiny'), name: 'tiny-short', maxTokens: 20 }));
      const problem = 'Compute 37*24 + 18*53 - 29*11.';
      const short = await threadweaver('solve', '--compare', '--json', '--preset', file, problem);
      expect(short.code).toBe(1);
      const out = JSON.parse(short.stdout);
      expect([out.parallel.preset, out.sequential.preset]).toEqual(['tiny-short', 'tiny-short']);
      expect([out.parallel.finishReason, out.sequential.finishReason]).toEqual(['budget', 'budget']);
      expect(short.stderr).toMatch(
        /no answer \(parallel\): the response budget of 20 tokens ran out before a final answer/,
      );
      expect(short.stderr).toMatch(/no answer \(sequential\): the response budget of 20 tokens ran out/);
      const raised = await threadweaver(
        'solve',
        '--compare',
        '--json',
        '--preset',
        file,
        '--max-tokens',
        '600',
        problem,
      );
      expect(raised.code, raised.stderr).toBe(0);
      const both = JSON.parse(raised.stdout);
      expect([both.parallel.answer, both.sequential.answer]).toEqual(['1523', '1523']);
      expect(both.speedup.tokens).toBeCloseTo(
        both.sequential.metrics.totalTokens / both.parallel.metrics.criticalPathTokens,
        10,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints the threads grouped and labelled, the answer and the metrics line', async () => {
    const r = await threadweaver('solve', 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7).');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/parallel block 1: 2 threads/);
    expect(r.stdout).toMatch(/thread 1 \(\d+ tokens/);
    expect(r.stdout).toMatch(/thread 2 \(\d+ tokens/);
    expect(r.stdout).toMatch(/Answer: 227\n/);
    expect(r.stdout).toMatch(/critical path \d+ · parallel width T\/L [\d.]+× .* wall [\d.]+ s/);
    expect(r.stdout).not.toMatch(/speedup/);
  });

  it('sequential mode does not fork', async () => {
    const r = await threadweaver('solve', '--json', '--mode', 'sequential', 'Compute 37*24 + 18*53 - 29*11.');
    const out = JSON.parse(r.stdout);
    expect(out.answer).toBe('1523');
    expect(out.metrics.parallelBlocks).toBe(0);
  });

  it('bad input: usage errors with exit code 2 and zod messages', async () => {
    const empty = await threadweaver('solve');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/give the problem/);
    const badMode = await threadweaver('solve', '--mode', 'fast', 'x');
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/--mode/);
    const badTemp = await threadweaver('solve', '--temperature', 'hot', 'x');
    expect(badTemp.code).toBe(2);
    expect(badTemp.stderr).toMatch(/--temperature/);
    const missingModel = await threadweaver('solve', '--model', './no-such-model', 'x');
    expect(missingModel.code).toBe(1);
    expect(missingModel.stderr).toMatch(/folder not found/);
  });

  it('--dtype fp32: the bundled model ships no fp32 graph, and the error and the help say how to use an fp32 folder', async () => {
    const r = await threadweaver('solve', '--dtype', 'fp32', 'Compute 2*3.');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--dtype fp32: the bundled model ships only q8 graphs \(onnx\/model_append_quantized.onnx, onnx\/model_cascade_quantized.onnx, onnx\/model_quantized.onnx\), no fp32 one/,
    );
    expect(r.stderr).toMatch(/--model DIR\) at a folder with config.json, tokenizer.json and onnx\/model.onnx/);
    const help = await threadweaver('solve', '--help');
    expect(help.stdout + help.stderr).toMatch(
      /--dtype q8\|fp32 .*The bundled model ships q8 only:\n\s+fp32 needs --model DIR, a folder with onnx\/model.onnx/,
    );
    // The library says the same.
    await expect(solve('Compute 2*3.', { dtype: 'fp32' })).rejects.toThrow(/bundled model ships only q8 graphs/);
  });

  it.skipIf(!hasSharedFile('models/tiny-threadweaver/onnx/model.onnx', 'the fp32 --model test'))(
    '--model DIR --dtype fp32 runs a folder that has the fp32 graph; the wrong dtype for a folder is named',
    async () => {
      const source = path.join(sharedDir, 'models/tiny-threadweaver');
      const dir = await mkdtemp(path.join(tmpdir(), 'tw-fp32-'));
      try {
        const folder = path.join(dir, 'tiny-fp32');
        await mkdir(path.join(folder, 'onnx'), { recursive: true });
        for (const f of [...MODEL_FOLDER_FILES, 'onnx/model.onnx']) {
          await symlink(path.join(source, f), path.join(folder, f));
        }
        const r = await threadweaver(
          'solve',
          '--json',
          '--model',
          folder,
          '--dtype',
          'fp32',
          'Compute 37*24 + 18*53 - 29*11.',
        );
        // An fp32 export is not chunk-invariant, so the one thing said is that prefix caching is off.
        expect(r.stderr).toMatch(/THREADWEAVER_PREFIX_CACHE_OFF.*prefix caching is off/);
        expect(r.stderr.split('\n').filter((l) => l && !/PREFIX_CACHE_OFF|--trace-warnings/.test(l))).toEqual([]);
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout).answer).toBe('1523');
        const q8 = await threadweaver('solve', '--model', folder, 'Compute 2*3.');
        expect(q8.code).toBe(2);
        expect(q8.stderr).toMatch(
          /has no q8 graph \(onnx\/model_quantized.onnx\); it has onnx\/model.onnx: use dtype fp32/,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
