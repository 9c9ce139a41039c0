import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateArith, parseArithProblem, renderArith } from '../../eval/arith.js';
import { ARITH_DEFAULT_SEED, loadDataset, type Dataset } from '../../eval/dataset.js';
import { SettingsMismatchError } from '../../src/batch/setting-differences.js';
import { readSummary } from '../../eval/summary.js';
import { extractPolicySchema, openResults } from '../../eval/results.js';
import { EXTRACT_POLICIES } from '../../src/math/extract.js';
import type { GradeFn } from '../../src/math/grade.js';
import { runEval, type RunEvalOptions, type EvalSolveFn, type EvalSolveOptions } from '../../eval/runner.js';
import { formatProgress } from '../../eval/progress.js';
import { assertWellFormed } from '../support/eval-xml.js';
import { repoRoot } from '../support/helpers.js';
import { loadPreset, resolvePreset } from '../../src/solve/preset.js';

/** A deterministic stand-in for solve(): renders the arith reference trajectory and measures it in characters. */
function fakeSolve(log: Array<EvalSolveOptions & { problem: string }> = [], delayMs = 0): EvalSolveFn {
  return async (problem, opts) => {
    log.push({ ...opts, problem });
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const task = parseArithProblem(problem)!;
    const text = renderArith(task, opts.mode);
    const threads = [...text.matchAll(/<Thread>([\s\S]*?)<\/Thread>/g)].map((m) => m[1]!.length);
    const total = text.length;
    const critical = total - threads.reduce((a, b) => a + b, 0) + Math.max(0, ...threads);
    const wrong = (opts.seed + (opts.mode === 'parallel' ? 1 : 0)) % 4 === 0;
    return {
      answer: wrong ? String(task.answer + 1) : String(task.answer),
      text,
      formatValid: true,
      metrics: {
        totalTokens: total,
        criticalPathTokens: critical,
        acceleration: 1 - critical / total,
        parallelBlocks: threads.length ? 1 : 0,
        threads: threads.length,
        wallMs: critical / 10,
      },
    };
  };
}

const grade: GradeFn = (pred, gold) => ({ equal: pred === gold, reason: pred === gold ? 'equal' : 'different' });

let dir: string;
let arith: Dataset;
let arith2: Dataset;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tw-runner-'));
  arith = await loadDataset({ name: 'arith', limit: 8 });
  arith2 = { name: 'arith-b', problems: (await loadDataset({ name: 'arith', limit: 4, seed: 99 })).problems };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(out: string, extra: Partial<RunEvalOptions> = {}): RunEvalOptions {
  return {
    datasets: [arith, arith2],
    k: 2,
    modes: ['parallel', 'sequential'],
    concurrency: 3,
    temperature: 0.6,
    topP: 0.95,
    seedBase: 1234,
    out,
    solve: fakeSolve(),
    grade,
    progress: false,
    ...extra,
  };
}

/** The engine facts a run records, as an embedded engine reports them. */
const embeddedInfo = {
  model: '/models/a',
  modelFile: '/models/a/onnx/m.onnx',
  modelSha256: 'aa',
  dtype: 'q8' as const,
  engine: 'embedded' as const,
};
describe('runEval', () => {
  it('runs every sample in both modes, interleaved, with paired seeds, and writes results, summary, report, charts', async () => {
    const out = path.join(dir, 'full');
    const log: Array<EvalSolveOptions & { problem: string }> = [];
    const res = await runEval(options(out, { solve: fakeSolve(log), concurrency: 1 }));
    const total = (8 + 4) * 2 * 2;
    expect(res.ran).toBe(total);
    expect(res.resumed).toBe(0);
    expect(res.aborted).toBe(false);

    // Both modes of a (problem, sample) run back to back with the same seed; seeds differ across samples.
    for (let i = 0; i < log.length; i += 2) {
      expect([log[i]!.mode, log[i + 1]!.mode]).toEqual(['parallel', 'sequential']);
      expect(log[i + 1]!.seed).toBe(log[i]!.seed);
      expect(log[i + 1]!.problemId).toBe(log[i]!.problemId);
      expect(log[i]!.temperature).toBe(0.6);
    }
    const seeds = log.filter((l) => l.mode === 'parallel' && l.dataset === 'arith').map((l) => l.seed);
    expect(new Set(seeds).size).toBe(seeds.length);

    const store = await openResults(res.files.results);
    const rows = store.rows();
    expect(rows).toHaveLength(total);
    expect(rows[0]).toMatchObject({
      dataset: 'arith',
      family: expect.any(String),
      text: expect.stringContaining('</think>'),
    });
    // The summary on disk counts the rows: per dataset and mode, samples, accuracy and mean tokens.
    const onDisk = JSON.parse(await readFile(res.files.summary, 'utf8'));
    expect(Object.keys(onDisk.datasets)).toEqual(['arith', 'arith-b']);
    for (const d of ['arith', 'arith-b']) {
      for (const mode of ['parallel', 'sequential'] as const) {
        const mine = rows.filter((r) => r.dataset === d && r.mode === mode);
        const s = onDisk.datasets[d][mode];
        expect(s.samples).toBe(d === 'arith' ? 16 : 8);
        expect(s.accuracy).toBeCloseTo(mine.filter((r) => r.correct).length / mine.length, 12);
        expect(s.meanTotalTokens).toBeCloseTo(mine.reduce((t, r) => t + r.totalTokens, 0) / mine.length, 9);
      }
    }
    // The stand-in answers wrong when (seed + 1) % 4 is 0 in the parallel mode: the accuracy that makes.
    const parSeeds = log.filter((l) => l.dataset === 'arith' && l.mode === 'parallel').map((l) => l.seed);
    expect(parSeeds).toHaveLength(16);
    expect(onDisk.datasets.arith.parallel.accuracy).toBe(parSeeds.filter((s) => (s + 1) % 4 !== 0).length / 16);
    expect(Object.keys(onDisk.datasets.arith.families).sort()).toEqual(
      [...new Set(rows.filter((r) => r.dataset === 'arith').map((r) => r.family as string))].sort(),
    );
    // Reference trajectories: the parallel T/L is their mean total over their mean critical path.
    const arithPar = rows.filter((r) => r.dataset === 'arith' && r.mode === 'parallel');
    const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(onDisk.datasets.arith.speedup.parallelOwnTotalOverCriticalPath).toBeCloseTo(
      meanOf(arithPar.map((r) => r.totalTokens)) / meanOf(arithPar.map((r) => r.criticalPathTokens)),
      12,
    );

    const report = await readFile(res.files.report, 'utf8');
    for (const label of [
      'Accuracy, sequential',
      'Latency (tokens), parallel',
      'Average speedup',
      'Maximum speedup (correct only)',
      'Wall-clock speedup',
      '## Definitions',
      'own T/L',
    ]) {
      expect(report).toContain(label);
    }
    expect(res.files.charts.length).toBe(4);
    for (const chart of res.files.charts) {
      expect(report).toContain(path.relative(out, chart));
      const svg = await readFile(chart, 'utf8');
      assertWellFormed(svg);
      expect(svg).toContain('<title>');
    }
    const hist = await readFile(
      res.files.charts.find((c) => c.endsWith('arith-speedup.svg'))!,
      'utf8',
    );
    expect(hist).toMatch(/<rect [^>]*fill="#2563eb"/);
    expect(hist).toContain('no speedup (1×)');
  });

  it('records the preset in every row and the summary, and refuses to resume with another preset', async () => {
    const out = path.join(dir, 'preset');
    const preset = resolvePreset(loadPreset('threadweaver-qwen3-8b'), 'eval', {}, { samplesPerProblem: 2 });
    const first = await runEval(options(out, { datasets: [arith2], preset }));
    const rows = (await openResults(first.files.results)).rows();
    expect(rows.every((r) => r.preset === 'threadweaver-qwen3-8b')).toBe(true);
    const onDisk = JSON.parse(await readFile(first.files.summary, 'utf8'));
    expect(onDisk.config.preset).toMatchObject({
      name: 'threadweaver-qwen3-8b',
      use: 'eval',
      settings: { temperature: 0.6, topP: 0.95, contextLength: 40960 },
    });
    expect(onDisk.config.preset.settings.prompt.suffix).toBe(
      " Let's think step by step and output the final answer within \\boxed{}.",
    );
    expect(onDisk.provenance.preset).toBe('threadweaver-qwen3-8b');
    // Same preset: resumes; another (or none, which is tiny): refused, naming both.
    expect((await runEval(options(out, { datasets: [arith2], preset }))).resumed).toBe(rows.length);
    const tiny = resolvePreset(loadPreset('tiny'), 'eval', { temperature: 0.6, topP: 0.95 }, { samplesPerProblem: 2 });
    const refused = await runEval(options(out, { datasets: [arith2], preset: tiny })).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SettingsMismatchError);
    expect((refused as SettingsMismatchError).differences.map((d) => d.setting)).toEqual(['preset']);
    expect((refused as Error).message).toContain('preset "threadweaver-qwen3-8b" (this run: "tiny")');
    await expect(runEval(options(out, { datasets: [arith2] }))).rejects.toThrow(
      'preset "threadweaver-qwen3-8b" (this run: "tiny")',
    );
    // With the seed too, one refusal names both settings.
    await expect(runEval(options(out, { datasets: [arith2], preset: tiny, seedBase: 1 }))).rejects.toThrow(
      /seed \d+ \(this run: \d+\), preset "threadweaver-qwen3-8b" \(this run: "tiny"\)/,
    );
  });

  it('keeps to the concurrency limit and uses it', async () => {
    let inFlight = 0;
    let peak = 0;
    const inner = fakeSolve([], 5);
    const solve: EvalSolveFn = async (p, o) => {
      peak = Math.max(peak, ++inFlight);
      try {
        return await inner(p, o);
      } finally {
        inFlight--;
      }
    };
    await runEval(options(path.join(dir, 'conc'), { solve, concurrency: 3, datasets: [arith] }));
    expect(peak).toBe(3);
  });

  it('resumes after an abort without redoing or duplicating samples', async () => {
    const out = path.join(dir, 'resume');
    const ac = new AbortController();
    const first = await runEval(
      options(out, { signal: ac.signal, onProgress: (p) => p.done >= 10 && ac.abort(), solve: fakeSolve([], 2) }),
    );
    expect(first.aborted).toBe(true);
    const stored = (await openResults(first.files.results)).rows().length;
    expect(stored).toBeGreaterThanOrEqual(10);
    expect(stored).toBeLessThan(48);
    expect(JSON.parse(await readFile(first.files.summary, 'utf8')).datasets.arith.parallel.samples).toBeGreaterThan(0);

    const log: Array<EvalSolveOptions & { problem: string }> = [];
    const progress: number[] = [];
    const second = await runEval(options(out, { solve: fakeSolve(log), onProgress: (p) => progress.push(p.done) }));
    expect(second.resumed).toBe(stored);
    expect(second.ran).toBe(48 - stored);
    expect(log).toHaveLength(48 - stored);
    expect(progress[0]).toBe(stored);
    expect(progress.at(-1)).toBe(48);
    const rows = (await openResults(second.files.results)).rows();
    expect(new Set(rows.map((r) => `${r.dataset}/${r.problemId}/${r.sample}/${r.mode}`)).size).toBe(48);
    expect(rows).toHaveLength(48);

    // The same rows as a run that was never interrupted.
    const clean = await runEval(options(path.join(dir, 'resume-clean')));
    expect(second.summary.datasets).toEqual(clean.summary.datasets);

    // A third run has nothing left to do.
    const third = await runEval(options(out, { solve: fakeSolve(log) }));
    expect(third.ran).toBe(0);
    expect(log).toHaveLength(48 - stored);
  });

  it('summarizes only the planned samples when the folder holds more', async () => {
    const out = path.join(dir, 'subset');
    await runEval(options(out));
    const smaller = await runEval(options(out, { k: 1, modes: ['parallel'], datasets: [arith] }));
    expect(smaller.ran).toBe(0);
    expect(Object.keys(smaller.summary.datasets)).toEqual(['arith']);
    expect(smaller.summary.datasets.arith!.parallel!.samples).toBe(8);
    expect(smaller.summary.datasets.arith!.sequential).toBeNull();
    expect(smaller.summary.datasets.arith!.speedup.tokenLatencyRatioOfMeans).toBeNull();
  });

  it('refuses to resume with other settings, naming every one that differs; the same settings resume', async () => {
    const out = path.join(dir, 'mismatch');
    const engine = embeddedInfo;
    await runEval(options(out, { datasets: [arith2], k: 1, engine, maxTokens: 300 }));
    const refused = (o: Partial<RunEvalOptions>) =>
      runEval(options(out, { datasets: [arith2], k: 1, engine, maxTokens: 300, ...o }));
    await expect(refused({ seedBase: 1 })).rejects.toThrow(
      /8 stored samples were made with other settings: seed \d+ \(this run: \d+\) .*Use another --out folder/,
    );
    await expect(refused({ temperature: 0 })).rejects.toThrow('temperature 0.6 (this run: 0)');
    await expect(refused({ extract: 'lenient' })).rejects.toThrow('extract "boxed" (this run: "lenient")');
    const many = await refused({
      temperature: 0.7,
      topP: 0.9,
      maxTokens: 200,
      engine: { ...engine, modelSha256: 'bb' },
      promptStyle: 'instructed',
    }).catch((e: unknown) => e);
    expect(many).toBeInstanceOf(SettingsMismatchError);
    const err = many as SettingsMismatchError;
    expect(err.differences.map((d) => d.setting)).toEqual([
      'temperature',
      'top-p',
      'model sha256',
      'prompt style',
      'max tokens',
    ]);
    expect(err.message).toContain(
      'model sha256 "aa" (this run: "bb"), prompt style null (this run: "instructed"), max tokens 300 (this run: 200)',
    );
    // The same weights in another folder are the same model; the same settings resume.
    const moved = await refused({ engine: { ...engine, model: '/elsewhere/a' } });
    expect(moved.ran).toBe(0);
    expect(moved.resumed).toBe(8);
    // A changed dataset file (another gold answer for a stored problem) is refused too.
    const edited = { ...arith2, problems: arith2.problems.map((p, i) => (i === 0 ? { ...p, answer: '-1' } : p)) };
    await expect(refused({ datasets: [edited] })).rejects.toThrow(/gold answer "\d+" \(this run: "-1"\)/);
  });

  it('an edited preset that keeps its name cannot resume: prompt suffix, context length, tokenizer and format are settings', async () => {
    const out = path.join(dir, 'edited-preset');
    const preset = resolvePreset(loadPreset('threadweaver-qwen3-8b'), 'eval', {}, { samplesPerProblem: 1 });
    const prompt = preset.settings.prompt;
    const engine = {
      model: 'served',
      modelFile: null,
      modelSha256: null,
      dtype: null,
      engine: { baseUrls: ['http://a/v1'], servedModel: 'served' },
      contextLength: 40960,
      tokenizerSha256: 'f00d',
    };
    const run = (o: Partial<RunEvalOptions>) =>
      runEval(
        options(out, {
          datasets: [arith2],
          k: 1,
          preset,
          prompt,
          promptStyle: prompt.style,
          format: 'threadweaver',
          engine,
          ...o,
        }),
      );
    const log: Array<EvalSolveOptions & { problem: string }> = [];
    await run({ solve: fakeSolve(log) });
    // solve is handed the whole prompt format, as recorded.
    expect(log.every((l) => l.prompt?.suffix === prompt.suffix)).toBe(true);
    const stored = (await openResults(path.join(out, 'results.jsonl'))).rows();
    expect(stored[0]!.settings).toMatchObject({
      prompt: { suffix: prompt.suffix, sequentialSystem: prompt.sequentialSystem },
      contextLength: 40960,
      tokenizer: 'f00d',
      format: 'threadweaver',
    });
    expect(log.every((l) => l.format === 'threadweaver')).toBe(true);
    expect((await run({})).resumed).toBe(stored.length);

    const why = async (o: Partial<RunEvalOptions>) =>
      ((await run(o).catch((e: unknown) => e)) as SettingsMismatchError).differences.map((d) => d.setting);
    expect(await why({ prompt: { ...prompt, suffix: ' Answer in a box.' } })).toEqual(['prompt']);
    expect(await why({ engine: { ...engine, contextLength: 8192 } })).toEqual(['context length']);
    expect(await why({ engine: { ...engine, tokenizerSha256: 'beef' } })).toEqual(['tokenizer']);
    expect(await why({ format: 'npr' })).toEqual(['format']);

    // Rows written before these were recorded are compared on the rest, and resume.
    const text = await readFile(path.join(out, 'results.jsonl'), 'utf8');
    const older = text
      .trim()
      .split('\n')
      .map((l) => {
        const { prompt: _p, contextLength: _c, tokenizer: _t, format: _f, ...rest } = JSON.parse(l).settings;
        return JSON.stringify({ ...JSON.parse(l), settings: rest }) + '\n';
      })
      .join('');
    await writeFile(path.join(out, 'results.jsonl'), older);
    expect((await run({ prompt: { ...prompt, suffix: ' Answer in a box.' } })).resumed).toBe(stored.length);
  });

  it('a greedy run is not refused for its seeds (greedy decoding reads none); a sampled one is', async () => {
    const out = path.join(dir, 'greedy-seeds');
    const first = await runEval(options(out, { datasets: [arith2], k: 1, temperature: 0 }));
    // Rows stored with other seeds, as an older version derived them.
    const text = await readFile(first.files.results, 'utf8');
    await writeFile(first.files.results, text.replace(/"seed":\d+/g, '"seed":7'));
    const again = await runEval(options(out, { datasets: [arith2], k: 1, temperature: 0 }));
    expect(again).toMatchObject({ ran: 0, resumed: 8 });
    const sampled = path.join(dir, 'sampled-seeds');
    const run = await runEval(options(sampled, { datasets: [arith2], k: 1 }));
    await writeFile(run.files.results, (await readFile(run.files.results, 'utf8')).replace(/"seed":\d+/g, '"seed":7'));
    await expect(runEval(options(sampled, { datasets: [arith2], k: 1 }))).rejects.toThrow(/seed 7 \(this run: \d+\)/);
  });

  it('records its settings in every row and its provenance in summary.json', async () => {
    const out = path.join(dir, 'provenance');
    const engine = embeddedInfo;
    const res = await runEval(options(out, { datasets: [arith2], k: 1, engine, promptStyle: 'trained' }));
    const rows = (await readFile(res.files.results, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(8);
    const settings = {
      model: '/models/a',
      modelSha256: 'aa',
      dtype: 'q8',
      engine: 'embedded',
      promptStyle: 'trained',
      maxTokens: null,
      prompt: null,
      contextLength: null,
      tokenizer: null,
      format: null,
    };
    for (const r of rows) expect(r.settings).toEqual(settings);
    const summary = JSON.parse(await readFile(res.files.summary, 'utf8'));
    const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'));
    expect(summary.provenance).toMatchObject({
      version,
      model: '/models/a',
      modelFile: '/models/a/onnx/m.onnx',
      modelSha256: 'aa',
      dtype: 'q8',
      engine: 'embedded',
      promptStyle: 'trained',
      maxTokens: null,
      temperature: 0.6,
      topP: 0.95,
      seedBase: 1234,
      extract: 'boxed',
      k: 1,
      preset: null,
    });
    // A generated set: no file, the generator's seed and the sha256 of its rows; a hand-built one: what is known.
    const arith8 = (await runEval(options(path.join(dir, 'provenance-arith'), { datasets: [arith], k: 1 }))).summary
      .provenance!.datasets.arith!;
    expect(arith8).toMatchObject({ path: null, rows: 8, problems: 8, seed: ARITH_DEFAULT_SEED });
    expect(arith8.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.provenance.datasets['arith-b']).toMatchObject({ path: null, sha256: null, rows: null, problems: 4 });
    expect(summary.uncertainty).toMatchObject({ resamples: 1000, seed: 0, confidence: 0.95 });
    expect((await readSummary(out)).provenance?.modelSha256).toBe('aa');
  });

  it('a dataset read from a file: its path, the sha256 of its bytes, its rows, and the problems run (fewer with a limit)', async () => {
    const file = path.join(dir, 'five.jsonl');
    const text = generateArith(5, 7)
      .map((t, i) => JSON.stringify({ id: `p${i}`, problem: t.problem, answer: String(t.answer) }) + '\n')
      .join('');
    await writeFile(file, text);
    const five = await loadDataset({ name: 'five', file, limit: 2 });
    const res = await runEval(options(path.join(dir, 'provenance-file'), { datasets: [five], k: 1 }));
    expect(res.summary.provenance!.datasets.five).toEqual({
      path: file,
      sha256: createHash('sha256').update(text).digest('hex'),
      rows: 5,
      problems: 2,
      problemIdsSha256: createHash('sha256').update('p0\np1').digest('hex'),
    });
  });

  it('hands the extraction policy to solve and records it in every row and in the summary', async () => {
    expect(extractPolicySchema.options).toEqual([...EXTRACT_POLICIES]);
    const out = path.join(dir, 'extract');
    const log: Array<EvalSolveOptions & { problem: string }> = [];
    const res = await runEval(options(out, { datasets: [arith2], k: 1, extract: 'lenient', solve: fakeSolve(log) }));
    expect(new Set(log.map((l) => l.extract))).toEqual(new Set(['lenient']));
    const rows = (await openResults(res.files.results)).rows();
    expect(rows).toHaveLength(4 * 2);
    expect(rows.every((r) => r.extract === 'lenient')).toBe(true);
    expect(JSON.parse(await readFile(res.files.summary, 'utf8')).config.extract).toBe('lenient');
    expect(await readFile(res.files.report, 'utf8')).toContain('extracted by the lenient policy');
    // The default is the boxed policy, and it is recorded too.
    const plain = await runEval(options(path.join(dir, 'extract-default'), { datasets: [arith2], k: 1 }));
    expect((await openResults(plain.files.results)).rows().every((r) => r.extract === 'boxed')).toBe(true);
    expect(plain.summary.config.extract).toBe('boxed');
    // Rows written before the policy was recorded were made with the boxed policy.
    const file = plain.files.results;
    const old = (await readFile(file, 'utf8')).replace(/"extract":"boxed",/g, '');
    expect(old).not.toContain('"extract"');
    await writeFile(file, old);
    expect((await runEval(options(path.join(dir, 'extract-default'), { datasets: [arith2], k: 1 }))).ran).toBe(0);
    await expect(
      runEval(options(path.join(dir, 'extract-default'), { datasets: [arith2], k: 1, extract: 'lenient' })),
    ).rejects.toThrow('extract "boxed" (this run: "lenient")');
  });

  it('stops on a solve error, keeps what finished and names the sample', async () => {
    const out = path.join(dir, 'error');
    let calls = 0;
    const inner = fakeSolve();
    const solve: EvalSolveFn = async (p, o) => {
      if (++calls === 6) throw new Error('engine went away');
      return inner(p, o);
    };
    await expect(runEval(options(out, { solve, concurrency: 1 }))).rejects.toThrow(
      /eval stopped at arith\/arith-2026-1 sample 0 \(sequential\): engine went away/,
    );
    expect((await openResults(path.join(out, 'results.jsonl'))).rows()).toHaveLength(5);
    expect(existsSync(path.join(out, 'summary.json'))).toBe(true);
  });

  it('validates its options', async () => {
    const out = path.join(dir, 'bad');
    await expect(runEval(options(out, { k: 0 }))).rejects.toThrow(/k must be a whole number/);
    await expect(runEval(options(out, { concurrency: 1.5 }))).rejects.toThrow(/concurrency/);
    await expect(runEval(options(out, { modes: [] }))).rejects.toThrow(/modes/);
    await expect(runEval(options(out, { modes: ['parallel', 'parallel'] }))).rejects.toThrow(/modes/);
    await expect(runEval(options(out, { datasets: [arith, arith] }))).rejects.toThrow(/dataset names repeat/);
  });

  it('drops the text when asked', async () => {
    const res = await runEval(options(path.join(dir, 'notext'), { datasets: [arith2], k: 1, keepText: false }));
    expect((await openResults(res.files.results)).rows().every((r) => r.text === undefined)).toBe(true);
  });
});

describe('progress line', () => {
  function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
    const chunks: string[] = [];
    const w = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    });
    return Object.assign(w, { isTTY, text: () => chunks.join('') });
  }

  it('prints a line every N samples without a TTY', async () => {
    const s = sink(false);
    await runEval(options(path.join(dir, 'prog'), { datasets: [arith2], progress: s, progressEvery: 4 }));
    const lines = s.text().trim().split('\n');
    // 16 samples: the start (0/16), every 4, and the end.
    expect(lines.map((l) => l.match(/\] (\d+)\/16/)![1])).toEqual(['0', '4', '8', '12', '16']);
    expect(lines.at(-1)).toMatch(
      /^\[#{24}\] 16\/16 100% \| acc par \d+\.\d% seq \d+\.\d% \| speedup \d\.\d\d× \| \d+s$/,
    );
  });

  it('redraws in place on a TTY', async () => {
    const s = sink(true);
    await runEval(options(path.join(dir, 'tty'), { datasets: [arith2], k: 1, progress: s }));
    const text = s.text();
    expect(text.split('\r')).toHaveLength(1 + 9);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('formats partial figures', () => {
    const line = formatProgress(
      {
        done: 3,
        total: 12,
        resumed: 0,
        accuracy: { parallel: 0.5, sequential: null },
        speedup: null,
        elapsedMs: 125_000,
      },
      12,
    );
    expect(line).toBe('[###---------] 3/12 25% | acc par 50.0% | 2m05s, ETA 6m15s');
  });
});
