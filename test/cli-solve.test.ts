import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { solve } from '../src/solve.js';
import { threadweaver } from './cli.js';
import { hasShared, sharedDir } from './helpers.js';

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
  });

  it('prints the threads grouped and labelled, the answer and the metrics line', async () => {
    const r = await threadweaver('solve', 'Let f(x) = 3x^2 + 2x + 5. Compute f(4) + f(7).');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/parallel block 1: 2 threads/);
    expect(r.stdout).toMatch(/thread 1 \(\d+ tokens/);
    expect(r.stdout).toMatch(/thread 2 \(\d+ tokens/);
    expect(r.stdout).toMatch(/Answer: 227\n/);
    expect(r.stdout).toMatch(/critical path \d+ · token-latency speedup [\d.]+× .* wall [\d.]+ s/);
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
    expect(r.stderr).toMatch(/--dtype fp32: the bundled model ships only q8 graphs \(onnx\/model_append_quantized.onnx, onnx\/model_quantized.onnx\), no fp32 one/);
    expect(r.stderr).toMatch(/--model DIR\) at a folder with config.json, tokenizer.json and onnx\/model.onnx/);
    const help = await threadweaver('solve', '--help');
    expect(help.stdout + help.stderr).toMatch(/--dtype q8\|fp32 .*The bundled model ships q8 only:\n\s+fp32 needs --model DIR, a folder with onnx\/model.onnx/);
    // The library says the same.
    await expect(solve('Compute 2*3.', { dtype: 'fp32' })).rejects.toThrow(/bundled model ships only q8 graphs/);
  });

  it.skipIf(!hasShared)('--model DIR --dtype fp32 runs a folder that has the fp32 graph; the wrong dtype for a folder is named', async () => {
    const source = path.join(sharedDir, 'models/tiny-threadweaver');
    const dir = await mkdtemp(path.join(tmpdir(), 'tw-fp32-'));
    try {
      const folder = path.join(dir, 'tiny-fp32');
      await mkdir(path.join(folder, 'onnx'), { recursive: true });
      for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/model.onnx']) {
        await symlink(path.join(source, f), path.join(folder, f));
      }
      const r = await threadweaver('solve', '--json', '--model', folder, '--dtype', 'fp32', 'Compute 37*24 + 18*53 - 29*11.');
      // An fp32 export is not chunk-invariant, so the one thing said is that prefix caching is off.
      expect(r.stderr).toMatch(/THREADWEAVER_PREFIX_CACHE_OFF.*prefix caching is off/);
      expect(r.stderr.split('\n').filter((l) => l && !/PREFIX_CACHE_OFF|--trace-warnings/.test(l))).toEqual([]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).answer).toBe('1523');
      const q8 = await threadweaver('solve', '--model', folder, 'Compute 2*3.');
      expect(q8.code).toBe(2);
      expect(q8.stderr).toMatch(/has no q8 graph \(onnx\/model_quantized.onnx\); it has onnx\/model.onnx: use dtype fp32/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
