/**
 * Decoding benchmark on the bundled model (greedy), three configurations side by side per problem:
 *   A  sequential mode (the model's sequential prompt);
 *   B  the parallel trajectory decoded in one pass, no forking (the model writes the threads itself);
 *   C  the parallel trajectory orchestrated (shared prefix, batched threads, join reuse).
 * Plus the per-step cost of a batch of 1–4 threads, single-stream speed against transformers.js
 * `generate()`, and peak memory. Writes bench/results/decoding.json and bench/RESULTS.md.
 *
 *   npm run bench            (or: node dist/bench/decoding.js [--limit N] [--dtype q8|fp32])
 *   node dist/bench/decoding.js --render     (RESULTS.md again from the committed results)
 */
import { existsSync, readFileSync } from 'node:fs';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AutoModelForCausalLM, env } from '@huggingface/transformers';
import { generateArith } from '../eval/arith.js';
import { extractAnswer } from '../src/math/extract.js';
import { packageRoot } from '../src/internal/package-root.js';
import { DEFAULT_CASCADE_MIN_PREFIX, TransformersEngine } from '../src/engine/embedded/transformers.js';
import { cascadeSection } from './cascade-report.js';
import { machineDuring, median } from './side-by-side.js';
import { describeMachine, machineNote, type RecordedMachine } from './machine.js';
import { graphProfileSection } from './graph-profile-report.js';
import { staticShapesSection } from './static-shapes-report.js';
import { prefill, siblingRows, type Which } from './sibling-rows.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { parallelStats } from '../src/orchestrator/metrics.js';
import { decomposeSection } from './decompose-report.js';
import { affinitySection } from './affinity-report.js';
import { llamaCppSection } from './llama-cpp-report.js';
import { solve } from '../src/solve/solve.js';
import { type SolveResult } from '../src/solve/types.js';
import type { CompletionResult } from '../src/engine/types.js';

interface Problem {
  id: string;
  problem: string;
  answer: string;
  family: string;
}

/** Where a run's time went inside the engine (from its stats): forward calls that prefill, and decode steps by rows. */
interface EngineTime {
  prefillMs: number;
  decode: Record<string, { calls: number; ms: number }>;
}

interface Measured {
  id: string;
  family: string;
  threads: number;
  A: { ms: number; tokens: number; correct: boolean };
  B: { ms: number; tokens: number; criticalPath: number; correct: boolean; sameTextAsC: boolean; engine: EngineTime };
  C: { ms: number; tokens: number; criticalPath: number; correct: boolean; engine: EngineTime };
}

function engineTimeSnapshot(engine: TransformersEngine): EngineTime {
  const decode: EngineTime['decode'] = {};
  for (const [rows, v] of engine.stats.decodeMsByBatch) decode[String(rows)] = { ...v };
  return { prefillMs: engine.stats.prefillMs, decode };
}

function engineTimeSince(engine: TransformersEngine, before: EngineTime): EngineTime {
  const now = engineTimeSnapshot(engine);
  const decode: EngineTime['decode'] = {};
  for (const [rows, v] of Object.entries(now.decode)) {
    const b = before.decode[rows] ?? { calls: 0, ms: 0 };
    if (v.calls > b.calls) decode[rows] = { calls: v.calls - b.calls, ms: v.ms - b.ms };
  }
  return { prefillMs: now.prefillMs - before.prefillMs, decode };
}

const root = packageRoot();

function loadProblems(limit: number): { source: string; problems: Problem[] } {
  const shared = path.resolve(root, '../shared/benchmarks/arith500.jsonl');
  if (existsSync(shared)) {
    const rows = readFileSync(shared, 'utf8').split('\n').filter(Boolean).slice(0, limit);
    return { source: 'arith500.jsonl (first ' + limit + ')', problems: rows.map((l) => JSON.parse(l) as Problem) };
  }
  const tasks = generateArith(limit, 2026);
  return {
    source: `built-in arith generator, seed 2026, ${limit} problems`,
    problems: tasks.map((t, i) => ({
      id: `arith-${i}`,
      problem: t.problem,
      answer: String(t.answer),
      family: t.family,
    })),
  };
}

async function measureProblems(
  engine: TransformersEngine,
  problems: Problem[],
  maxTokens: number,
): Promise<Measured[]> {
  const out: Measured[] = [];
  for (const [i, p] of problems.entries()) {
    // Rotate which configuration goes first, so order effects (GC, caches) fall on all three alike.
    let a!: SolveResult;
    let b!: CompletionResult;
    let bMs = 0;
    let c!: SolveResult;
    let bTime!: EngineTime;
    let cTime!: EngineTime;
    const runs = [
      async () => {
        a = await solve(p.problem, { engine, mode: 'sequential', maxTokens });
      },
      async () => {
        const before = engineTimeSnapshot(engine);
        const t0 = performance.now();
        b = await engine.complete({ prompt: buildPrompt(engine.tokenizer, p.problem, 'parallel'), maxTokens });
        bMs = performance.now() - t0;
        bTime = engineTimeSince(engine, before);
      },
      async () => {
        const before = engineTimeSnapshot(engine);
        c = await solve(p.problem, { engine, mode: 'parallel', maxTokens });
        cTime = engineTimeSince(engine, before);
      },
    ];
    for (let k = 0; k < runs.length; k++) {
      engine.clearCache();
      await runs[(i + k) % runs.length]!();
    }
    const bStats = parallelStats(b.text, b.ids, engine.tokenizer, { eos: b.finishReason === 'eos' });
    out.push({
      id: p.id,
      family: p.family,
      threads: c.metrics.threads,
      A: { ms: a.metrics.wallMs, tokens: a.metrics.totalTokens, correct: a.answer === p.answer },
      B: {
        ms: bMs,
        tokens: bStats.totalTokens,
        criticalPath: bStats.totalTokens,
        correct: extractAnswer(b.text) === p.answer,
        sameTextAsC: b.text === c.text,
        engine: bTime,
      },
      C: {
        ms: c.metrics.wallMs,
        tokens: c.metrics.totalTokens,
        criticalPath: c.metrics.criticalPathTokens,
        correct: c.answer === p.answer,
        engine: cTime,
      },
    });
    if ((i + 1) % 10 === 0) process.stderr.write(`  ${i + 1}/${problems.length} problems\n`);
  }
  return out;
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

function aggregate(rows: Measured[]) {
  if (rows.length === 0) return null;
  const ms = (k: 'A' | 'B' | 'C') => sum(rows.map((r) => r[k].ms));
  const tok = (k: 'A' | 'B' | 'C') => sum(rows.map((r) => r[k].tokens));
  const cp = sum(rows.map((r) => r.C.criticalPath));
  const bTokens = sum(rows.map((r) => r.B.criticalPath));
  const wallBC = ms('B') / ms('C');
  const tokensBC = bTokens / cp;
  return {
    problems: rows.length,
    wallMs: { A: ms('A'), B: ms('B'), C: ms('C') },
    totalTokens: { A: tok('A'), B: tok('B'), C: tok('C') },
    criticalPathTokens: { A: tok('A'), B: bTokens, C: cp },
    accuracy: {
      A: rows.filter((r) => r.A.correct).length / rows.length,
      B: rows.filter((r) => r.B.correct).length / rows.length,
      C: rows.filter((r) => r.C.correct).length / rows.length,
    },
    sameTextBC: rows.filter((r) => r.B.sameTextAsC).length / rows.length,
    wallClock: { CvsB: wallBC, CvsA: ms('A') / ms('C') },
    tokens: { CvsB_criticalPath: tokensBC, CvsA_criticalPath: tok('A') / cp },
    realization: wallBC / tokensBC,
    msPerToken: { A: ms('A') / tok('A'), B: ms('B') / tok('B'), C: ms('C') / tok('C') },
  };
}

/**
 * Where B's and C's wall time went (prefill calls, decode steps by rows, the rest: sampling,
 * tokenizing, forming and dropping rows, the controller), and the B/C that C would reach if a step
 * of k sibling rows cost what one of B's single-row steps costs: the most batching can give on
 * these problems, whatever the kernels; the rest of the gap is C's extra prefill and per-call work.
 */
function timeBreakdown(rows: Measured[]) {
  if (rows.length === 0) return null;
  const side = (k: 'B' | 'C') => {
    const wallMs = sum(rows.map((r) => r[k].ms));
    const prefillMs = sum(rows.map((r) => r[k].engine.prefillMs));
    const decode: Record<string, { calls: number; ms: number; msPerStep: number }> = {};
    for (const r of rows) {
      for (const [n, v] of Object.entries(r[k].engine.decode)) {
        const d = (decode[n] ??= { calls: 0, ms: 0, msPerStep: 0 });
        d.calls += v.calls;
        d.ms += v.ms;
      }
    }
    for (const d of Object.values(decode)) d.msPerStep = d.ms / d.calls;
    const decodeMs = sum(Object.values(decode).map((d) => d.ms));
    return { wallMs, prefillMs, decodeMs, otherMs: wallMs - prefillMs - decodeMs, decode };
  };
  const B = side('B');
  const C = side('C');
  const oneRowStep = B.decode['1']?.msPerStep ?? NaN;
  // C with every multi-row step at B's single-row cost.
  const batchExcess = sum(
    Object.entries(C.decode)
      .filter(([n]) => n !== '1')
      .map(([, d]) => d.ms - d.calls * oneRowStep),
  );
  const tokensBC = sum(rows.map((r) => r.B.criticalPath)) / sum(rows.map((r) => r.C.criticalPath));
  const freeBatchBC = B.wallMs / (C.wallMs - batchExcess);
  return {
    B,
    C,
    stepCostRelativeToB: Object.fromEntries(Object.entries(C.decode).map(([n, d]) => [n, d.msPerStep / oneRowStep])),
    /** B/C if multi-row steps cost one row's step. */
    wallBCIfBatchingFree: freeBatchBC,
    realizationIfBatchingFree: freeBatchBC / tokensBC,
  };
}

/**
 * Per-step cost of 1–4 sibling rows sharing a prefix of each context, as the engine runs them
 * (on copies of the prefix below `cascadeMinPrefix`, the cascade graph from it), relative to one
 * row of a plain completion at that context.
 */
interface StepCost {
  /** ms per step of one row of a plain completion. */
  msBatch1: number;
  /** 1–4 sibling rows, relative to that. */
  batch1: number;
  batch2: number;
  batch3: number;
  batch4: number;
  /** How the engine ran the rows (absent in results from before the cascade graph: copies). */
  graph?: 'copies' | 'cascade';
}

async function stepCost(
  engine: TransformersEngine,
  contexts: number[],
  steps: number,
  rounds: number,
): Promise<Record<string, StepCost>> {
  const result: Record<string, StepCost> = {};
  for (const ctx of contexts) {
    const prefix = await prefill(engine, ctx);
    const which: Which = engine.cascadeFile && ctx >= DEFAULT_CASCADE_MIN_PREFIX ? 'after' : 'before';
    const samples: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      // Interleave batch sizes within a round so machine noise hits them alike.
      for (const [key, w, batch] of [['plain', 'before', 1], ...[1, 2, 3, 4].map((b) => [`batch${b}`, which, b])] as [
        string,
        Which,
        number,
      ][]) {
        const rows = await siblingRows(engine, w, prefix, batch);
        const t0 = performance.now();
        for (let s = 0; s < steps; s++) await rows.step();
        (samples[key] ??= []).push((performance.now() - t0) / steps);
      }
    }
    const base = median(samples.plain!);
    const ratio = (b: number) => median(samples[`batch${b}`]!) / base;
    result[String(ctx)] = {
      msBatch1: base,
      batch1: ratio(1),
      batch2: ratio(2),
      batch3: ratio(3),
      batch4: ratio(4),
      graph: which === 'after' ? 'cascade' : 'copies',
    };
  }
  return result;
}

/** Tokens/s of one stream: our decode loop against transformers.js generate() on the same model. */
export async function singleStream(engine: TransformersEngine, dtype: 'q8' | 'fp32', rounds: number) {
  env.localModelPath = path.join(root, 'models') + '/';
  env.allowRemoteModels = false;
  const model = await AutoModelForCausalLM.from_pretrained('tiny-threadweaver', { dtype, local_files_only: true });
  const prompt = buildPrompt(engine.tokenizer, 'Compute 76*84 + 24*30 + 87*81 + 82*55.', 'parallel');
  const ids = engine.tokenizer.encode(prompt);
  const n = 400;
  const ours: number[] = [];
  const theirs: number[] = [];
  const { Tensor } = await import('@huggingface/transformers');
  for (let r = 0; r < rounds; r++) {
    engine.clearCache();
    let t0 = performance.now();
    const a = await engine.complete({ prompt: ids, maxTokens: n });
    ours.push(a.ids.length / ((performance.now() - t0) / 1000));
    const input_ids = new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const attention_mask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    t0 = performance.now();
    const out = (await model.generate({
      input_ids,
      attention_mask,
      max_new_tokens: a.ids.length,
      min_new_tokens: a.ids.length,
      do_sample: false,
    })) as { dims: number[] };
    const generated = out.dims[1]! - ids.length;
    theirs.push(generated / ((performance.now() - t0) / 1000));
  }
  await model.dispose();
  return {
    tokensPerSecond: { ours: median(ours), generate: median(theirs) },
    ratio: median(ours) / median(theirs),
    rounds,
  };
}

function table(rows: [string, ...string[]][]): string {
  const head = rows[0]!;
  const body = rows.slice(1);
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export async function runDecodingBench(opts: { limit: number; dtype: 'q8' | 'fp32'; threads?: number }) {
  const loadBefore = os.loadavg();
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 25);
  // Only the q8 graph is vendored; fp32 is read from ../shared when it is there.
  const fp32Dir = path.resolve(root, '../shared/models/tiny-threadweaver');
  const engine = await TransformersEngine.load({
    dtype: opts.dtype,
    ...(opts.dtype === 'fp32' ? { model: fp32Dir } : {}),
    ...(opts.threads ? { threads: opts.threads } : {}),
  });
  const { source, problems } = loadProblems(opts.limit);
  process.stderr.write(`decoding bench: ${problems.length} problems from ${source}\n`);
  // Warm-up: first calls pay session initialisation.
  await solve(problems[0]!.problem, { engine });
  const rows = await measureProblems(engine, problems, 1024);
  process.stderr.write('  step cost by batch size\n');
  const step = await stepCost(engine, [10, 200, 400, 800], 40, 15);
  process.stderr.write('  single stream vs generate()\n');
  const stream = await singleStream(engine, opts.dtype, 5);
  clearInterval(sampler);

  const families = [...new Set(rows.map((r) => r.family))];
  const three = aggregate(rows.filter((r) => r.threads >= 3))!;
  const none = aggregate(rows.filter((r) => r.threads === 0));
  const breakdown = timeBreakdown(rows.filter((r) => r.threads >= 3))!;
  const result = {
    benchmark: 'decoding',
    date: new Date().toISOString(),
    machine: machineDuring(loadBefore),
    config: {
      model: 'tiny-threadweaver',
      dtype: opts.dtype,
      greedy: true,
      source,
      problems: problems.length,
      threads: opts.threads ?? 'default',
    },
    overall: aggregate(rows),
    byFamily: Object.fromEntries(families.map((f) => [f, aggregate(rows.filter((r) => r.family === f))])),
    threePlusThreads: three,
    noParallelBlock: none,
    wallClockSpeedup: three.wallClock.CvsB,
    realization: three.realization,
    timeBreakdownThreePlusThreads: breakdown,
    noBlockSlowdown: none ? none.wallMs.C / none.wallMs.B : null,
    stepCostRelativeToOne: step,
    singleStream: stream,
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    problemsDetail: rows,
  };
  await writeFileAtomic(path.join(root, 'bench/results/decoding.json'), jsonText(result));
  await renderResults(result);
  return result;
}

export type DecodingResult = Awaited<ReturnType<typeof runDecodingBench>>;

/** The before/after section for the appending KV cache (bench/kv-append.ts, bench/token-identity.ts), if measured. */
function kvAppendSection(reference: RecordedMachine): string {
  const file = path.join(root, 'bench/results/kv-append.json');
  if (!existsSync(file)) return '';
  const kv = JSON.parse(readFileSync(file, 'utf8')) as {
    date: string;
    machine: RecordedMachine & { loadAverageBefore: number[]; loadAverageAfter: number[] };
    stepCostRelativeToOne: Record<string, Record<'before' | 'after', Record<string, number>>>;
    singleStream: { tokensPerSecond: { before: number; after: number }; ratio: number };
    problems: Record<
      'all' | 'threePlusThreads',
      { problems: number; wallBC: { before: number; after: number }; speedupAfterOverBefore: { B: number; C: number } }
    > & {
      identicalTexts: { B: number; C: number; of: number };
    };
  };
  const idFile = path.join(root, 'bench/results/token-identity.json');
  const id = existsSync(idFile)
    ? (JSON.parse(readFileSync(idFile, 'utf8')) as {
        problems: number;
        identical: Record<'A' | 'B' | 'C', { same: number }>;
      })
    : undefined;
  const f2 = (x: number) => x.toFixed(2);
  const stepRows = Object.entries(kv.stepCostRelativeToOne).flatMap(([ctx, v]) =>
    (['before', 'after'] as const).map(
      (w) =>
        [
          `${ctx} ${w}`,
          f2(v[w].msBatch1!),
          ...[2, 3, 4].map((b) => f2(v[w][`batch${b}`]!) + '×'),
          f2(v[w].msBatch4!),
        ] as [string, ...string[]],
    ),
  );
  const p = kv.problems;
  return `
## Before/after: the KV cache appended to outside the graph

${machineNote(kv.machine, reference)}\`node dist/bench/kv-append.js\` (${kv.date.slice(0, 10)}, load average ${kv.machine.loadAverageBefore[0]} → ${kv.machine.loadAverageAfter[0]}): the decoder-with-past
graph (before) and the appending graph (after) in one process, interleaved; same logits bit for bit.

${table([['context, graph', 'batch 1 ms', '2', '3', '4', 'batch 4 ms'], ...stepRows])}

| | before | after | after ÷ before |
| --- | ---: | ---: | ---: |
| single stream, tokens/s | ${kv.singleStream.tokensPerSecond.before.toFixed(0)} | ${kv.singleStream.tokensPerSecond.after.toFixed(0)} | ${f2(kv.singleStream.ratio)}× |
| B/C wall, all ${p.all.problems} problems | ${f2(p.all.wallBC.before)}× | ${f2(p.all.wallBC.after)}× | B ${f2(p.all.speedupAfterOverBefore.B)}× faster, C ${f2(p.all.speedupAfterOverBefore.C)}× faster |
| B/C wall, ${p.threePlusThreads.problems} problems with ≥3 threads | ${f2(p.threePlusThreads.wallBC.before)}× | ${f2(p.threePlusThreads.wallBC.after)}× | B ${f2(p.threePlusThreads.speedupAfterOverBefore.B)}×, C ${f2(p.threePlusThreads.speedupAfterOverBefore.C)}× |

Texts identical between the two graphs: B ${p.identicalTexts.B}/${p.identicalTexts.of}, C ${p.identicalTexts.C}/${p.identicalTexts.of}.${
    id
      ? ` Recorded at the previous commit and at this one (\`bench/token-identity.ts\`): A ${id.identical.A.same}/${id.problems}, B ${id.identical.B.same}/${id.problems}, C ${id.identical.C.same}/${id.problems} identical token for token.`
      : ''
  }
`;
}

/** bench/RESULTS.md from the decoding results (and the before/after of the KV cache, when measured). */
export async function renderResults(result: DecodingResult): Promise<void> {
  const opts = { dtype: result.config.dtype };
  const { source } = result.config;
  const rows = result.problemsDetail;
  const families = [...new Set(rows.map((r) => r.family))];
  const three = result.threePlusThreads;
  const none = result.noParallelBlock;
  const step = result.stepCostRelativeToOne;
  const stream = result.singleStream;
  // Absent in results recorded before the engine timed its calls.
  const tb = (result as Partial<DecodingResult>).timeBreakdownThreePlusThreads;

  const f2 = (x: number) => x.toFixed(2);
  const s1 = (ms: number) => (ms / 1000).toFixed(2);
  // B/C with batched steps free and C's prefill cut to B's.
  const withoutExtraPrefill = tb
    ? tb.B.wallMs / (tb.B.wallMs / tb.wallBCIfBatchingFree - (tb.C.prefillMs - tb.B.prefillMs))
    : NaN;
  // B/C if a step of k rows cost only a one-row step plus the other rows' own arithmetic, as k rows
  // cost at 10 tokens of context (where attention is next to nothing): the MatMuls' share.
  const arithmetic = step['10'];
  const arithmeticOnlyBC =
    tb && arithmetic
      ? tb.B.wallMs /
        (tb.C.wallMs -
          Object.entries(tb.C.decode)
            .filter(([n]) => n !== '1')
            .reduce((excess, [n, d]) => {
              const rel = arithmetic[`batch${n}` as 'batch2' | 'batch3' | 'batch4'] / arithmetic.batch1;
              return excess + d.ms - d.calls * (tb.B.decode['1']?.msPerStep ?? NaN) * rel;
            }, 0))
      : NaN;
  const breakdownSection = !tb
    ? ''
    : `
### Where B's and C's time goes (problems with ≥3 threads)

From the engine's own timers around each forward call. "Other" is everything outside the forward calls: sampling, tokenizing, forming and dropping rows, the controller.

${table([
  ['', 'wall s', 'prefill s', 'decode s', 'other s', 'decode steps by rows (steps, ms per step)'],
  ...(['B', 'C'] as const).map(
    (k) =>
      [
        k,
        s1(tb[k].wallMs),
        s1(tb[k].prefillMs),
        s1(tb[k].decodeMs),
        s1(tb[k].otherMs),
        Object.entries(tb[k].decode)
          .map(([n, d]) => `${n}: ${d.calls}, ${d.msPerStep.toFixed(3)}`)
          .join('; '),
      ] as [string, ...string[]],
  ),
])}

A step of k sibling rows costs ${Object.entries(tb.stepCostRelativeToB)
        .map(([n, r]) => `${n}: ${f2(r)}×`)
        .join(
          ', ',
        )} of B's mean single-row step. If every multi-row step cost one row's step, B/C would be **${f2(tb.wallBCIfBatchingFree)}×** (realization ${f2(tb.realizationIfBatchingFree)}) against the ${f2(result.wallClockSpeedup)}× measured: that is the most faster batched steps can give on these problems. C's extra prefill (${s1(tb.C.prefillMs - tb.B.prefillMs)} s: thread headers, and the joined threads' text, which the continuation must read in sequence) takes it the rest of the way: without it too, ${f2(withoutExtraPrefill)}× against a token ratio of ${f2(three.tokens.CvsB_criticalPath)}×.
${
  Number.isFinite(arithmeticOnlyBC)
    ? `
What a multi-row step cannot shed is its extra rows' own arithmetic (the int8 MatMuls run on every row): at 10 tokens of context, where attention costs next to nothing, k rows cost ${[2, 3, 4].map((k) => f2(arithmetic![`batch${k}` as 'batch2'] / arithmetic!.batch1) + '×').join(', ')} one row (k = 2, 3, 4). If C's multi-row steps cost only that, B/C would be **${f2(arithmeticOnlyBC)}×** (realization ${f2(arithmeticOnlyBC / three.tokens.CvsB_criticalPath)}).
`
    : ''
}`;
  const groups: [string, ReturnType<typeof aggregate>][] = [
    ['all', result.overall],
    ['≥3 threads', three],
    ['no block', none],
    ...families.map((f) => [f, result.byFamily[f]!] as [string, ReturnType<typeof aggregate>]),
  ];
  const m: RecordedMachine & { loadAverageBefore?: number[]; loadAverageAfter?: number[] } = result.machine;
  const md = `# Benchmark results

Machine: ${describeMachine(m)}; ${m.memoryGiB ?? '?'} GiB, ${m.platform ?? '?'}, Node ${m.node ?? '?'}${m.loadAverageBefore ? `; load average ${m.loadAverageBefore[0]} → ${m.loadAverageAfter?.[0]}` : ''}.
A section measured on another machine says so; figures from different machines are not comparable in time (docs/performance.md, "AVX2 and AVX-512").
Shared and noisy: configurations are measured side by side per problem (A, B, C in turn, the first one rotating) and reported as ratios.

## Decoding (bundled model, ${opts.dtype}, greedy, ${source})

A = sequential mode; B = the parallel trajectory in one pass, no forking; C = orchestrated (shared prefix,
batched threads, join reuse). Token ratios use critical-path tokens (B's path is all its tokens).

${table([
  [
    'problems',
    'n',
    'wall A s',
    'wall B s',
    'wall C s',
    'C vs B wall',
    'C vs A wall',
    'C vs B tokens',
    'C vs A tokens',
    'realization',
    'acc A/B/C',
  ],
  ...groups
    .filter(([, g]) => g)
    .map(
      ([name, g]) =>
        [
          name,
          String(g!.problems),
          f2(g!.wallMs.A / 1000),
          f2(g!.wallMs.B / 1000),
          f2(g!.wallMs.C / 1000),
          f2(g!.wallClock.CvsB) + '×',
          f2(g!.wallClock.CvsA) + '×',
          f2(g!.tokens.CvsB_criticalPath) + '×',
          f2(g!.tokens.CvsA_criticalPath) + '×',
          f2(g!.realization),
          [g!.accuracy.A, g!.accuracy.B, g!.accuracy.C].map((a) => Math.round(a * 100) + '%').join('/'),
        ] as [string, ...string[]],
    ),
])}

- Wall-clock speedup on problems with ≥3 threads (B/C): **${f2(result.wallClockSpeedup)}×**; realization (that ÷ B/C in critical-path tokens): **${f2(result.realization)}**.
- Problems without a parallel block: C takes ${result.noBlockSlowdown === null ? 'n/a' : f2(result.noBlockSlowdown) + '×'} B's time.
- B and C wrote the same text on ${Math.round((result.overall?.sameTextBC ?? 0) * 100)}% of problems.
${breakdownSection}
### Per-step cost of sibling rows, relative to one row

Rows sharing a prefix of that many tokens (each with a 5-token header), as the engine decodes them: on copies of the prefix below ${DEFAULT_CASCADE_MIN_PREFIX} tokens, through the cascade graph from ${DEFAULT_CASCADE_MIN_PREFIX}; relative to one row of a plain completion at that context.

${table([
  ['context', 'one row ms', '1 sibling', '2', '3', '4', 'rows read the prefix'],
  ...Object.entries(step).map(
    ([ctx, v]) =>
      [
        ctx,
        f2(v.msBatch1),
        f2(v.batch1) + '×',
        f2(v.batch2) + '×',
        f2(v.batch3) + '×',
        f2(v.batch4) + '×',
        v.graph === 'cascade' ? 'once (cascade)' : 'from copies',
      ] as [string, ...string[]],
  ),
])}

### Single stream

Our decode loop ${stream.tokensPerSecond.ours.toFixed(0)} tokens/s, transformers.js \`generate()\` ${stream.tokensPerSecond.generate.toFixed(0)} tokens/s (${f2(stream.ratio)}×), median of ${stream.rounds}.

Peak resident memory: ${result.peakRssMiB} MiB.

What these figures say about the targets, and why batching is not free on this model and machine:
[docs/performance.md](../docs/performance.md).
`;
  await writeFileAtomic(
    path.join(root, 'bench/RESULTS.md'),
    md +
      kvAppendSection(m) +
      cascadeSection(m) +
      staticShapesSection(m) +
      graphProfileSection(m) +
      decomposeSection(m) +
      affinitySection(m) +
      llamaCppSection(m),
  );
}

/** Re-render bench/RESULTS.md from the committed results (after another benchmark wrote its own). */
export async function renderStoredResults(): Promise<void> {
  await renderResults(
    JSON.parse(readFileSync(path.join(root, 'bench/results/decoding.json'), 'utf8')) as DecodingResult,
  );
}

const isMain =
  process.argv[1] && path.resolve(process.argv[1]).replace(/\.ts$/, '.js').endsWith(path.join('bench', 'decoding.js'));
if (isMain && process.argv.includes('--render')) {
  await renderStoredResults();
} else if (isMain) {
  const { values } = parseArgs({
    options: { limit: { type: 'string' }, dtype: { type: 'string' }, threads: { type: 'string' } },
  });
  const r = await runDecodingBench({
    limit: Number(values.limit ?? 100),
    dtype: values.dtype === 'fp32' ? 'fp32' : 'q8',
    ...(values.threads ? { threads: Number(values.threads) } : {}),
  });
  console.log(`wall-clock B/C (≥3 threads) ${r.wallClockSpeedup.toFixed(2)}×, realization ${r.realization.toFixed(2)}`);
}
