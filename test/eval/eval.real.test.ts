import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/helpers.js';

const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(
  args: string[],
  killAfterLines?: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    if (killAfterLines !== undefined) {
      const results = path.join(args[args.indexOf('--out') + 1]!, 'results.jsonl');
      const timer = setInterval(() => {
        let lines = 0;
        try {
          lines = readFileSync(results, 'utf8').split('\n').filter(Boolean).length;
        } catch {
          /* not yet */
        }
        if (lines >= killAfterLines) {
          clearInterval(timer);
          child.kill('SIGKILL');
        }
      }, 50);
      child.on('exit', () => clearInterval(timer));
    }
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

interface Row {
  problemId: string;
  sample: number;
  mode: string;
  family?: string;
  criticalPathTokens: number;
  totalTokens: number;
}

describe('threadweaver eval on the bundled model', () => {
  it('arith, 30 problems, k=2, both modes: accuracy ≥ 0.9 each; resumes after SIGKILL without duplicates', async () => {
    const out = path.join(tmp, 'arith');
    const args = ['eval', '--dataset', 'arith', '--limit', '30', '--k', '2', '--mode', 'both', '--out', out];
    const killed = await run(args, 10);
    expect(killed.signal).toBe('SIGKILL');
    const partial = readFileSync(path.join(out, 'results.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    expect(partial).toBeGreaterThanOrEqual(10);
    expect(partial).toBeLessThan(120);

    const resumed = await run(args);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`${120 - partial} samples run, ${partial} resumed`));
    const rows = readFileSync(path.join(out, 'results.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Row);
    expect(rows).toHaveLength(120);
    expect(new Set(rows.map((r) => `${r.problemId}/${r.sample}/${r.mode}`)).size).toBe(120);

    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    const arith = summary.datasets?.arith ?? summary.arith ?? Object.values(summary.datasets ?? summary)[0];
    expect(arith.parallel.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(arith.sequential.accuracy).toBeGreaterThanOrEqual(0.9);
    // On the parallelizable families the parallel critical path is shorter than the sequential total.
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    // The token-latency speedup is mean sequential T over mean parallel L; the others are positive ratios.
    const ratio =
      mean(rows.filter((r) => r.mode === 'sequential').map((r) => r.totalTokens)) /
      mean(rows.filter((r) => r.mode === 'parallel').map((r) => r.criticalPathTokens));
    expect(arith.speedup.tokenLatencyRatioOfMeans).toBeCloseTo(ratio, 9);
    for (const key of ['tokenLatencyMeanOfRatios', 'maxCorrect', 'wallClock'])
      expect(arith.speedup[key]).toBeGreaterThan(0);
    for (const family of ['products', 'poly']) {
      const par = rows.filter((r) => r.family === family && r.mode === 'parallel');
      const seq = rows.filter((r) => r.family === family && r.mode === 'sequential');
      if (par.length === 0) continue;
      expect(mean(par.map((r) => r.criticalPathTokens))).toBeLessThan(mean(seq.map((r) => r.totalTokens)));
    }
    const report = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/Average speedup/);
  }, 1_200_000);

  it('--extract lenient is handed to solve, recorded in rows and summary, and a rerun with another policy is refused', async () => {
    const out = path.join(tmp, 'lenient');
    const args = ['eval', '--dataset', 'arith', '--limit', '3', '--mode', 'parallel', '--out', out];
    const first = await run([...args, '--extract', 'lenient']);
    expect(first.code, first.stderr).toBe(0);
    const rows = readFileSync(path.join(out, 'results.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(3);
    expect(rows.every((r) => r.extract === 'lenient')).toBe(true);
    // The bundled model boxes its answers, so the lenient policy finds the same ones.
    expect(rows.every((r) => r.answer !== null)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')).config.extract).toBe('lenient');
    const other = await run(args);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(
      /3 stored samples were made with other settings: extract "lenient" \(this run: "boxed"\)/,
    );
    // Every differing setting is named, and nothing runs.
    const several = await run([...args, '--max-tokens', '500', '--temperature', '0.3']);
    expect(several.code).toBe(2);
    expect(several.stderr).toMatch(
      /temperature 0 \(this run: 0\.3\), extract "lenient" \(this run: "boxed"\), max tokens null \(this run: 500\)/,
    );
    expect(readFileSync(path.join(out, 'results.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
    // The same settings resume.
    const again = await run([...args, '--extract', 'lenient']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/0 samples run, 3 resumed/);
    // The summary table, as lm-eval prints it, on the console.
    expect(again.stdout).toMatch(
      /\| dataset \| mode \| n \| metric \| value \| stderr \| 95% CI \|\n[^\n]*\n\| arith \| parallel \| 3×1 \| accuracy \(avg@k\) \| [\d.]+% \| ± [\d.]+ \| \[[\d.]+, [\d.]+\] \|/,
    );
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.provenance.modelSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.provenance.engine).toBe('embedded');
    // The graph the engine loaded (the append-only KV graph), and the preset the run used.
    expect(summary.provenance.modelFile).toMatch(/onnx\/model_append_quantized\.onnx$/);
    expect(summary.provenance.modelSha256).toBe(
      createHash('sha256').update(readFileSync(summary.provenance.modelFile)).digest('hex'),
    );
    expect(summary.provenance.preset).toBe('tiny');
    const bad = await run([...args, '--extract', 'loose']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--extract/);
  }, 300_000);

  it('bad data gives a clear error', async () => {
    const missing = await run(['eval', '--data', path.join(tmp, 'nope.jsonl'), '--out', path.join(tmp, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.jsonl/);
    const noDataset = await run(['eval', '--out', path.join(tmp, 'x')]);
    expect(noDataset.code).toBe(2);
    expect(noDataset.stderr).toMatch(/--dataset NAME or --data FILE/);
  });
});
