import { describe, expect, it } from 'vitest';
import { threadweaver } from './cli.js';

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
});
