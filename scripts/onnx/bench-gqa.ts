/**
 * Per-step decode cost of the original vs the GQA-rewritten decoder, side by side: one new token
 * per row after `context` cached positions, feeds prepared once, steps timed one by one and
 * interleaved A/B in small chunks (order alternating) so load from other processes hits both.
 *
 * Usage: node dist/scripts/onnx/bench-gqa.js [--rounds 3] [--steps 100] [--threads N]
 *          [--batches 1,2,3,4] [--contexts 100,300,600] [--out bench/results/onnx-gqa.json]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { machineInfo } from '../../bench/machine.js';
import { rewriteGqa } from './rewrite-gqa.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const onnxDir = path.join(root, 'models/tiny-threadweaver/onnx');

interface Stats {
  medianMs: number;
  meanMs: number;
  p10Ms: number;
  p90Ms: number;
  /** Median of each round, to show how stable the figure is. */
  roundMedianMs: number[];
}

export interface CellResult {
  batch: number;
  context: number;
  positions: number;
  original: Stats;
  rewritten: Stats;
  /** original / rewritten median. */
  speedup: number;
}

const quantile = (xs: readonly number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function stats(rounds: readonly (readonly number[])[]): Stats {
  const all = rounds.flat();
  return {
    medianMs: round3(quantile(all, 0.5)),
    meanMs: round3(all.reduce((s, x) => s + x, 0) / all.length),
    p10Ms: round3(quantile(all, 0.1)),
    p90Ms: round3(quantile(all, 0.9)),
    roundMedianMs: rounds.map((r) => round3(quantile(r, 0.5))),
  };
}

/** Least-squares `ms ≈ fixed + perThousand · positions/1000`. */
function fit(points: readonly { positions: number; ms: number }[]): { fixedMs: number; msPer1000Positions: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.positions / 1000, 0) / n;
  const my = points.reduce((s, p) => s + p.ms, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.positions / 1000 - mx) * (p.ms - my), 0);
  const sxx = points.reduce((s, p) => s + (p.positions / 1000 - mx) ** 2, 0);
  const slope = sxy / sxx;
  return { fixedMs: round3(my - slope * mx), msPer1000Positions: round3(slope) };
}

function decodeFeeds(
  batch: number,
  context: number,
  kvHeads: number,
  headDim: number,
  layers: number,
): Record<string, ort.Tensor> {
  let s = 12345;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', new BigInt64Array(batch).fill(30n), [batch, 1]),
    position_ids: new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(context)), [batch, 1]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(batch * (context + 1)).fill(1n), [batch, context + 1]),
  };
  for (let l = 0; l < layers; l++) {
    for (const kv of ['key', 'value']) {
      const data = Float32Array.from({ length: batch * kvHeads * context * headDim }, next);
      feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', data, [batch, kvHeads, context, headDim]);
    }
  }
  return feeds;
}

async function timeSteps(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  steps: number,
  into: number[],
): Promise<void> {
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    into.push(performance.now() - t0);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      original: { type: 'string', default: path.join(onnxDir, 'model_quantized.onnx') },
      // Default: the attention rewrite of --original, built in memory.
      rewritten: { type: 'string' },
      rounds: { type: 'string', default: '3' },
      steps: { type: 'string', default: '100' },
      warmup: { type: 'string', default: '5' },
      chunk: { type: 'string', default: '10' },
      threads: { type: 'string' },
      batches: { type: 'string', default: '1,2,3,4' },
      contexts: { type: 'string', default: '100,300,600' },
      out: { type: 'string', default: path.join(root, 'bench/results/onnx-gqa.json') },
    },
  });
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`bench-gqa: --${name} must be a positive integer, got ${v}`);
    return n;
  };
  const rounds = int('rounds', values.rounds);
  const steps = int('steps', values.steps);
  const warmup = int('warmup', values.warmup);
  const chunk = int('chunk', values.chunk);
  const threads = values.threads === undefined ? undefined : int('threads', values.threads);
  const batches = values.batches.split(',').map((v) => int('batches', v));
  const contexts = values.contexts.split(',').map((v) => int('contexts', v));
  const shape = { heads: 8, kvHeads: 2, headDim: 32, layers: 6 };

  const options: ort.InferenceSession.SessionOptions = threads
    ? { intraOpNumThreads: threads, interOpNumThreads: 1 }
    : {};
  const sessions = {
    original: await ort.InferenceSession.create(values.original, options),
    rewritten:
      values.rewritten !== undefined
        ? await ort.InferenceSession.create(values.rewritten, options)
        : await ort.InferenceSession.create(rewriteGqa(readFileSync(values.original), shape).model, options),
  };
  const cells = batches.flatMap((batch) =>
    contexts.map((context) => ({
      batch,
      context,
      feeds: decodeFeeds(batch, context, shape.kvHeads, shape.headDim, shape.layers),
    })),
  );
  const times = cells.map(() => ({ original: [] as number[][], rewritten: [] as number[][] }));
  const loadBefore = os.loadavg();
  const started = Date.now();

  for (let r = 0; r < rounds; r++) {
    for (const [c, cell] of cells.entries()) {
      const a: number[] = [];
      const b: number[] = [];
      const warm: number[] = [];
      await timeSteps(sessions.original, cell.feeds, warmup, warm);
      await timeSteps(sessions.rewritten, cell.feeds, warmup, warm);
      for (let k = 0; k * chunk < steps; k++) {
        const n = Math.min(chunk, steps - k * chunk);
        if ((k + r) % 2 === 0) {
          await timeSteps(sessions.original, cell.feeds, n, a);
          await timeSteps(sessions.rewritten, cell.feeds, n, b);
        } else {
          await timeSteps(sessions.rewritten, cell.feeds, n, b);
          await timeSteps(sessions.original, cell.feeds, n, a);
        }
      }
      times[c]!.original.push(a);
      times[c]!.rewritten.push(b);
      console.error(
        `round ${r + 1}/${rounds} batch ${cell.batch} context ${cell.context}: ${quantile(a, 0.5).toFixed(2)} ms vs ${quantile(b, 0.5).toFixed(2)} ms`,
      );
    }
  }

  const results: CellResult[] = cells.map((cell, c) => {
    const original = stats(times[c]!.original);
    const rewritten = stats(times[c]!.rewritten);
    return {
      batch: cell.batch,
      context: cell.context,
      positions: cell.batch * cell.context,
      original,
      rewritten,
      speedup: round3(original.medianMs / rewritten.medianMs),
    };
  });
  const byModel = (m: 'original' | 'rewritten') => results.map((r) => ({ positions: r.positions, ms: r[m].medianMs }));
  const batchRatio = (m: 'original' | 'rewritten') =>
    Object.fromEntries(
      contexts.map((ctx) => {
        const one = results.find((r) => r.batch === Math.min(...batches) && r.context === ctx)!;
        const most = results.find((r) => r.batch === Math.max(...batches) && r.context === ctx)!;
        return [ctx, round3(most[m].medianMs / one[m].medianMs)];
      }),
    );
  const report = {
    what: 'Per-step decode cost (one new token per row, ms per session.run) of two decoder graphs: `original` against `rewritten` (files under models)',
    date: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    models: {
      original: path.relative(root, values.original),
      rewritten: values.rewritten ? path.relative(root, values.rewritten) : 'rewrite-gqa of original, in memory',
    },
    method: {
      rounds,
      stepsPerRoundPerModel: steps,
      warmupSteps: warmup,
      interleaveChunk: chunk,
      statistic: 'median over all timed steps',
    },
    machine: machineInfo(),
    environment: {
      node: process.version,
      onnxruntime: ort.env.versions.common,
      cpus: os.cpus().length,
      intraOpThreads: threads ?? 'runtime default',
      loadAverageBefore: loadBefore.map(round3),
      loadAverageAfter: os.loadavg().map(round3),
    },
    fit: { original: fit(byModel('original')), rewritten: fit(byModel('rewritten')) },
    [`batch${Math.max(...batches)}OverBatch${Math.min(...batches)}`]: {
      original: batchRatio('original'),
      rewritten: batchRatio('rewritten'),
    },
    cells: results,
  };
  mkdirSync(path.dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  console.log(`batch context  original  rewritten  speedup`);
  for (const r of results) {
    console.log(
      `${String(r.batch).padStart(5)} ${String(r.context).padStart(7)}  ${r.original.medianMs.toFixed(2).padStart(8)}  ${r.rewritten.medianMs.toFixed(2).padStart(9)}  ${r.speedup.toFixed(2)}x`,
    );
  }
  console.log(
    `fit original: ${JSON.stringify(report.fit.original)}; rewritten: ${JSON.stringify(report.fit.rewritten)}; wrote ${values.out}`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
