/**
 * What the before/after benchmarks of a graph change share (bench/kv-append.ts,
 * bench/static-shapes.ts): two engines, the same model on the graph before and after the change,
 * measured side by side in one process, interleaved.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectRows } from '../src/engine/embedded/kv-cache.js';
import type { OnnxDecoder } from '../src/engine/embedded/onnx-decoder.js';
import { TransformersEngine } from '../src/engine/embedded/transformers.js';
import { bundledModelDir, MODEL_FOLDER_FILES } from '../src/engine/model-source.js';
import { packageRoot } from '../src/internal/package-root.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { solve } from '../src/solve/solve.js';
import { machineDuring, median, round3, sameIds as same, type Which } from './side-by-side.js';

const root = packageRoot();

/** A copy of the bundled model folder (config, tokenizer) with these graph files, in a temporary folder. */
export function modelFolderWith(graphs: Record<string, Uint8Array>): { dir: string; cleanup: () => void } {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-before-'));
  const dir = path.join(tmp, 'tiny-threadweaver');
  mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  const src = bundledModelDir();
  for (const f of MODEL_FOLDER_FILES) copyFileSync(path.join(src, f), path.join(dir, f));
  for (const [file, bytes] of Object.entries(graphs)) writeFileSync(path.join(dir, file), bytes);
  return { dir, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

export const decoderOf = (engine: TransformersEngine) => (engine as unknown as { decoder: OnnxDecoder }).decoder;

/** Per-step cost of 1–4 rows at each context on both engines' own decoders: ms for one row, the others relative to it. */
export async function stepCost(
  engines: Record<Which, TransformersEngine>,
  contexts: number[],
  steps: number,
  rounds: number,
) {
  const out: Record<string, Record<Which, Record<string, number>>> = {};
  for (const ctx of contexts) {
    const ids = Array.from({ length: ctx }, (_, i) => 20 + (i % 60));
    const prefilled = Object.fromEntries(
      await Promise.all(
        (['before', 'after'] as const).map(async (w) => {
          const d = decoderOf(engines[w]);
          return [
            w,
            (await d.forward({ ids: [ids], positions: [ids.map((_, i) => i)], mask: [ids.map(() => 1)] }, d.empty(1)))
              .present,
          ] as const;
        }),
      ),
    );
    const samples: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      // Interleave graphs and batch sizes, order alternating, so machine noise hits all alike.
      const order = (['before', 'after'] as const).flatMap((w) => [1, 2, 3, 4].map((b) => [w, b] as const));
      for (const [w, batch] of r % 2 ? order : [...order].reverse()) {
        const d = decoderOf(engines[w]);
        let kv = selectRows(prefilled[w]!, Array(batch).fill(0));
        const mask = Array.from({ length: batch }, () => Array<number>(ctx).fill(1));
        // One untimed step, and the other configuration's garbage collected before the clock starts
        // (run with --expose-gc): the old contract allocates the cache's size every step.
        mask.forEach((m) => m.push(1));
        kv = (await d.forward({ ids: mask.map(() => [30]), positions: mask.map(() => [ctx]), mask }, kv)).present;
        (globalThis as { gc?: () => void }).gc?.();
        const t0 = performance.now();
        for (let s = 1; s <= steps; s++) {
          mask.forEach((m) => m.push(1));
          kv = (await d.forward({ ids: mask.map(() => [30]), positions: mask.map(() => [ctx + s]), mask }, kv)).present;
        }
        (samples[`${w}${batch}`] ??= []).push((performance.now() - t0) / steps);
      }
    }
    out[ctx] = Object.fromEntries(
      (['before', 'after'] as const).map((w) => {
        const ms = [1, 2, 3, 4].map((b) => median(samples[`${w}${b}`]!));
        return [
          w,
          {
            msBatch1: round3(ms[0]!),
            ...Object.fromEntries(ms.map((m, i) => [`batch${i + 1}`, round3(m / ms[0]!)])),
            msBatch4: round3(ms[3]!),
          },
        ];
      }),
    ) as unknown as Record<Which, Record<string, number>>;
  }
  return out;
}

/** B (one pass) and C (orchestrated) on the first `limit` arith500 problems on both engines, texts compared token for token. */
export async function problemsRun(engines: Record<Which, TransformersEngine>, limit: number) {
  const file = path.resolve(root, '../shared/benchmarks/arith500.jsonl');
  if (!existsSync(file)) throw new Error(`kv-append bench: ${file} not found`);
  const problems = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, limit)
    .map((l) => JSON.parse(l) as { id: string; problem: string });
  const rows: { id: string; threads: number; ms: Record<string, number>; sameB: boolean; sameC: boolean }[] = [];
  for (const [i, p] of problems.entries()) {
    const ms: Record<string, number> = {};
    const texts: Record<string, number[]> = {};
    let threads = 0;
    const runs = (['before', 'after'] as const).flatMap((w) => [
      async () => {
        const e = engines[w];
        e.clearCache();
        const t0 = performance.now();
        const b = await e.complete({ prompt: buildPrompt(e.tokenizer, p.problem, 'parallel'), maxTokens: 1024 });
        ms[`B_${w}`] = performance.now() - t0;
        texts[`B_${w}`] = b.ids;
      },
      async () => {
        const e = engines[w];
        e.clearCache();
        const c = await solve(p.problem, { engine: e, mode: 'parallel', maxTokens: 1024 });
        ms[`C_${w}`] = c.metrics.wallMs;
        texts[`C_${w}`] = c.trajectory.ids;
        threads = c.metrics.threads;
      },
    ]);
    for (let k = 0; k < runs.length; k++) await runs[(i + k) % runs.length]!();
    rows.push({
      id: p.id,
      threads,
      ms,
      sameB: same(texts.B_before!, texts.B_after!),
      sameC: same(texts.C_before!, texts.C_after!),
    });
    if ((i + 1) % 10 === 0) process.stderr.write(`  ${i + 1}/${problems.length} problems\n`);
  }
  const sum = (rs: typeof rows, k: string) => rs.reduce((s, r) => s + r.ms[k]!, 0);
  const summary = (rs: typeof rows) => ({
    problems: rs.length,
    wallMs: Object.fromEntries(['B_before', 'C_before', 'B_after', 'C_after'].map((k) => [k, Math.round(sum(rs, k))])),
    wallBC: {
      before: round3(sum(rs, 'B_before') / sum(rs, 'C_before')),
      after: round3(sum(rs, 'B_after') / sum(rs, 'C_after')),
    },
    speedupAfterOverBefore: {
      B: round3(sum(rs, 'B_before') / sum(rs, 'B_after')),
      C: round3(sum(rs, 'C_before') / sum(rs, 'C_after')),
    },
  });
  return {
    all: summary(rows),
    threePlusThreads: summary(rows.filter((r) => r.threads >= 3)),
    identicalTexts: { B: rows.filter((r) => r.sameB).length, C: rows.filter((r) => r.sameC).length, of: rows.length },
    rows,
  };
}

/**
 * A before/after benchmark's run: both engines loaded (before: the `before` folder, after: the
 * bundled model), then step costs, `stream` (a single-stream comparison), and the problems, in
 * that order; the result carries the machine and load, the graphs and every measurement.
 */
export async function measureBeforeAfter<S>(opts: {
  benchmark: string;
  before: { dir: string; cleanup: () => void };
  /** What "before" is, after its graph file names. */
  beforeIs: string;
  limit: number;
  rounds: number;
  stream: (engines: Record<Which, TransformersEngine>) => Promise<S>;
}) {
  try {
    const engines: Record<Which, TransformersEngine> = {
      before: await TransformersEngine.load({ model: opts.before.dir }),
      after: await TransformersEngine.load(),
    };
    const loadBefore = os.loadavg();
    const started = Date.now();
    process.stderr.write(`${opts.benchmark} bench: step cost\n`);
    const step = await stepCost(engines, [10, 200, 400], 40, opts.rounds);
    process.stderr.write('  single stream\n');
    const stream = await opts.stream(engines);
    process.stderr.write('  problems\n');
    const problems = await problemsRun(engines, opts.limit);
    const graphs = (e: TransformersEngine) => [e.graphFile, e.cascadeFile].filter(Boolean).join(', ');
    return {
      benchmark: opts.benchmark,
      date: new Date(started).toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      graphs: { before: `${graphs(engines.before)} (${opts.beforeIs})`, after: graphs(engines.after) },
      machine: machineDuring(loadBefore),
      stepCostRelativeToOne: step,
      singleStream: stream,
      problems: { ...problems, rows: undefined },
      problemsDetail: problems.rows,
    };
  } finally {
    opts.before.cleanup();
  }
}

/** The step-cost lines a before/after benchmark prints. */
export function printStepCost(step: Awaited<ReturnType<typeof stepCost>>): void {
  for (const ctx of Object.keys(step)) {
    for (const w of ['before', 'after'] as const) {
      const s = step[ctx]![w];
      console.log(`context ${ctx} ${w.padEnd(6)}: batch 1 ${s.msBatch1} ms, ×${s.batch2} ×${s.batch3} ×${s.batch4}`);
    }
  }
}
