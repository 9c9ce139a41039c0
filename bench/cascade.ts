/**
 * Before/after of cascade attention for sibling batches, side by side in one process. "Before" is
 * the engine with `cascade: false` (every sibling row decodes on its own copy of the prefix with
 * the appending graph); "after" is the default engine (sibling calls run
 * `model_cascade_quantized.onnx`: the prefix's cache is read once by all rows). Single
 * completions run the same graph in both. Measured, interleaved:
 *
 *   1. per-step cost of 1–4 sibling rows sharing a prefix of 10, 200, 400 and 800 tokens (each row
 *      with a 5-token header), relative to one row of a plain completion at that context;
 *   2. forming 4 rows from a 300-token prefix, and dropping one of 4 rows 100 steps later;
 *   3. single-stream decoding (400 tokens; the same path in both, as a control);
 *   4. B (the parallel trajectory in one pass) and C (orchestrated) on the benchmark problems, with
 *      the texts of both engines compared token for token.
 *
 *   node --expose-gc dist/bench/cascade.js [--limit 100] [--rounds 7]   → bench/results/cascade.json
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { selectRows, type KVCache } from '../src/engine/kv-cache.js';
import { range, type OnnxDecoder } from '../src/engine/onnx-decoder.js';
import { TransformersEngine } from '../src/engine/transformers.js';
import { jsonText, writeFileAtomic } from '../src/files.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { packageRoot } from '../src/package-root.js';
import { solve } from '../src/solve.js';

const root = packageRoot();
export const CASCADE_RESULT = path.join(root, 'bench/results/cascade.json');
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const ones = (n: number) => new Array<number>(n).fill(1);
const gc = () => (globalThis as { gc?: () => void }).gc?.();
type Which = 'before' | 'after';
const WHICH = ['before', 'after'] as const;

const decoders = (engine: TransformersEngine) => engine as unknown as { decoder: OnnxDecoder; cascade: OnnxDecoder | undefined };

/**
 * Sibling rows as the engine forms them: each row's header prefilled after the prefix, on a copy
 * of the prefix's cache (before) or reading it in place (after). Returns a step function.
 */
async function siblingRows(engine: TransformersEngine, which: Which, prefix: KVCache, rows: number) {
  const { decoder, cascade } = decoders(engine);
  const P = prefix.length;
  const shared = which === 'after' ? prefix : undefined;
  const run = which === 'after' ? cascade! : decoder;
  const header = [5, 6, 7, 8, 9];
  const masks = Array.from({ length: rows }, () => ones(shared ? header.length : P + header.length));
  let kv = shared ? run.empty(rows) : selectRows(prefix, Array(rows).fill(0));
  kv = (await run.forward({ ids: masks.map(() => header), positions: masks.map(() => range(P, P + header.length)), mask: masks }, kv, shared)).present;
  let pos = P + header.length;
  return {
    step: async () => {
      masks.forEach((m) => m.push(1));
      kv = (await run.forward({ ids: masks.map(() => [30]), positions: masks.map(() => [pos]), mask: masks }, kv, shared)).present;
      pos++;
    },
    drop: () => {
      kv = selectRows(kv, range(1, kv.batch));
      masks.shift();
    },
  };
}

async function prefill(engine: TransformersEngine, length: number): Promise<KVCache> {
  const { decoder } = decoders(engine);
  const ids = Array.from({ length }, (_, i) => 20 + (i % 60));
  return (await decoder.forward({ ids: [ids], positions: [range(0, length)], mask: [ones(length)] }, decoder.empty(1))).present;
}

/** ms per step of 1–4 sibling rows at each context, interleaved; ratios to one row before (a plain completion's step). */
async function stepCost(engines: Record<Which, TransformersEngine>, contexts: number[], steps: number, rounds: number) {
  const out: Record<string, { plainMs: number } & Record<Which, Record<string, number>>> = {};
  for (const ctx of contexts) {
    const prefix = await prefill(engines.before, ctx);
    const samples: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      const order = WHICH.flatMap((w) => [1, 2, 3, 4].map((b) => [w, b] as const));
      for (const [w, batch] of r % 2 ? order : [...order].reverse()) {
        const rows = await siblingRows(engines[w], w, prefix, batch);
        await rows.step();
        gc();
        const t0 = performance.now();
        for (let s = 0; s < steps; s++) await rows.step();
        (samples[`${w}${batch}`] ??= []).push((performance.now() - t0) / steps);
      }
    }
    // One row before is one row of a plain completion: the appending graph on the prefix's positions.
    const plainMs = median(samples.before1!);
    out[ctx] = {
      plainMs: round3(plainMs),
      ...(Object.fromEntries(
        WHICH.map((w) => {
          const ms = [1, 2, 3, 4].map((b) => median(samples[`${w}${b}`]!));
          return [w, { ...Object.fromEntries(ms.map((m, i) => [`batch${i + 1}`, round3(m / plainMs)])), msBatch1: round3(ms[0]!), msBatch4: round3(ms[3]!) }];
        }),
      ) as unknown as Record<Which, Record<string, number>>),
    };
  }
  return out;
}

/** Forming 4 rows on a 300-token prefix (copies or not, plus the header prefill), and dropping one of them 100 steps later. */
async function forkAndDrop(engines: Record<Which, TransformersEngine>, rounds: number) {
  const prefix = await prefill(engines.before, 300);
  const fork: Record<Which, number[]> = { before: [], after: [] };
  const drop: Record<Which, number[]> = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const w of r % 2 ? WHICH : ([...WHICH].reverse() as Which[])) {
      gc();
      let t0 = performance.now();
      const rows = await siblingRows(engines[w], w, prefix, 4);
      fork[w].push(performance.now() - t0);
      for (let s = 0; s < 100; s++) await rows.step();
      t0 = performance.now();
      rows.drop();
      drop[w].push(performance.now() - t0);
    }
  }
  const ms = (xs: Record<Which, number[]>) => ({ before: round3(median(xs.before)), after: round3(median(xs.after)) });
  return { prefix: 300, rows: 4, forkMs: ms(fork), dropMs: ms(drop) };
}

async function singleStream(engines: Record<Which, TransformersEngine>, rounds: number) {
  const tps: Record<Which, number[]> = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const w of r % 2 ? WHICH : ([...WHICH].reverse() as Which[])) {
      const e = engines[w];
      e.clearCache();
      const prompt = buildPrompt(e.tokenizer, 'Compute 76*84 + 24*30 + 87*81 + 82*55.', 'parallel');
      const t0 = performance.now();
      const out = await e.complete({ prompt, maxTokens: 400 });
      tps[w].push(out.ids.length / ((performance.now() - t0) / 1000));
    }
  }
  return { tokensPerSecond: { before: round3(median(tps.before)), after: round3(median(tps.after)) }, ratio: round3(median(tps.after) / median(tps.before)), rounds };
}

async function problemsRun(engines: Record<Which, TransformersEngine>, limit: number) {
  const file = path.resolve(root, '../shared/benchmarks/arith500.jsonl');
  if (!existsSync(file)) throw new Error(`cascade bench: ${file} not found`);
  const problems = readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, limit).map((l) => JSON.parse(l) as { id: string; problem: string });
  const rows: { id: string; threads: number; ms: Record<string, number>; sameB: boolean; sameC: boolean }[] = [];
  for (const [i, p] of problems.entries()) {
    const ms: Record<string, number> = {};
    const ids: Record<string, number[]> = {};
    let threads = 0;
    const runs = WHICH.flatMap((w) => [
      async () => {
        const e = engines[w];
        e.clearCache();
        const t0 = performance.now();
        const b = await e.complete({ prompt: buildPrompt(e.tokenizer, p.problem, 'parallel'), maxTokens: 1024 });
        ms[`B_${w}`] = performance.now() - t0;
        ids[`B_${w}`] = b.ids;
      },
      async () => {
        const e = engines[w];
        e.clearCache();
        const c = await solve(p.problem, { engine: e, mode: 'parallel', maxTokens: 1024 });
        ms[`C_${w}`] = c.metrics.wallMs;
        ids[`C_${w}`] = c.trajectory.ids;
        threads = c.metrics.threads;
      },
    ]);
    for (let k = 0; k < runs.length; k++) await runs[(i + k) % runs.length]!();
    const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, j) => x === b[j]);
    rows.push({ id: p.id, threads, ms, sameB: same(ids.B_before!, ids.B_after!), sameC: same(ids.C_before!, ids.C_after!) });
    if ((i + 1) % 10 === 0) process.stderr.write(`  ${i + 1}/${problems.length} problems\n`);
  }
  const sum = (rs: typeof rows, k: string) => rs.reduce((s, r) => s + r.ms[k]!, 0);
  const summary = (rs: typeof rows) => ({
    problems: rs.length,
    wallMs: Object.fromEntries(['B_before', 'C_before', 'B_after', 'C_after'].map((k) => [k, Math.round(sum(rs, k))])),
    wallBC: { before: round3(sum(rs, 'B_before') / sum(rs, 'C_before')), after: round3(sum(rs, 'B_after') / sum(rs, 'C_after')) },
    speedupAfterOverBefore: { B: round3(sum(rs, 'B_before') / sum(rs, 'B_after')), C: round3(sum(rs, 'C_before') / sum(rs, 'C_after')) },
  });
  return {
    all: summary(rows),
    threePlusThreads: summary(rows.filter((r) => r.threads >= 3)),
    identicalTexts: { B: rows.filter((r) => r.sameB).length, C: rows.filter((r) => r.sameC).length, of: rows.length },
    rows,
  };
}

export type CascadeResult = Awaited<ReturnType<typeof runCascadeBench>>;

export async function runCascadeBench(limit: number, rounds: number) {
  const engines: Record<Which, TransformersEngine> = { before: await TransformersEngine.load({ cascade: false }), after: await TransformersEngine.load() };
  if (!decoders(engines.after).cascade) throw new Error('cascade bench: the bundled model has no cascade graph (onnx/model_cascade_quantized.onnx)');
  // Warm-up: first calls pay session initialisation.
  for (const w of WHICH) await solve('Compute 37*24 + 18*53 - 29*11.', { engine: engines[w] });
  const loadBefore = os.loadavg();
  const started = Date.now();
  process.stderr.write('cascade bench: step cost\n');
  const step = await stepCost(engines, [10, 200, 400, 800], 40, rounds);
  process.stderr.write('  fork and drop\n');
  const rowsCost = await forkAndDrop(engines, rounds);
  process.stderr.write('  single stream\n');
  const stream = await singleStream(engines, 5);
  process.stderr.write('  problems\n');
  const problems = await problemsRun(engines, limit);
  const result = {
    benchmark: 'cascade',
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    graphs: { before: engines.before.graphFile + ' (every row on a copy of the prefix)', after: 'onnx/model_cascade_quantized.onnx for sibling calls' },
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadAverageBefore: loadBefore.map(round3), loadAverageAfter: os.loadavg().map(round3) },
    stepCostRelativeToOne: step,
    forkAndDrop: rowsCost,
    singleStream: stream,
    problems: { all: problems.all, threePlusThreads: problems.threePlusThreads, identicalTexts: problems.identicalTexts },
    problemsDetail: problems.rows,
  };
  await writeFileAtomic(CASCADE_RESULT, jsonText(result));
  return result;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { limit: { type: 'string', default: '100' }, rounds: { type: 'string', default: '7' } } });
  const r = await runCascadeBench(Number(values.limit), Number(values.rounds));
  for (const [ctx, s] of Object.entries(r.stepCostRelativeToOne)) {
    for (const w of WHICH) console.log(`context ${ctx} ${w.padEnd(6)}: one plain row ${s.plainMs} ms; 1–4 rows ×${s[w].batch1} ×${s[w].batch2} ×${s[w].batch3} ×${s[w].batch4}`);
  }
  console.log(`fork 4 rows at 300: ${r.forkAndDrop.forkMs.before} → ${r.forkAndDrop.forkMs.after} ms; drop one: ${r.forkAndDrop.dropMs.before} → ${r.forkAndDrop.dropMs.after} ms`);
  console.log(`single stream: ${r.singleStream.tokensPerSecond.before} → ${r.singleStream.tokensPerSecond.after} tokens/s`);
  const p = r.problems;
  console.log(`≥3 threads: B/C ${p.threePlusThreads.wallBC.before} → ${p.threePlusThreads.wallBC.after}; all: ${p.all.wallBC.before} → ${p.all.wallBC.after}; identical texts B ${p.identicalTexts.B}/${p.identicalTexts.of}, C ${p.identicalTexts.C}/${p.identicalTexts.of}`);
  console.log(`load average ${r.machine.loadAverageBefore[0]} → ${r.machine.loadAverageAfter[0]}`);
}

if (process.argv[1] && path.resolve(process.argv[1]).endsWith(path.join('bench', 'cascade.js'))) await main();
