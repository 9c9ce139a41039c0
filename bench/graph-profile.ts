/**
 * Where a decode step's time goes, by ONNX node type, in the two decoder graphs: the export
 * (`onnx/model_quantized.onnx`, what transformers.js `generate()` runs) and the rewritten graph
 * the engine runs (`onnx/model_append_quantized.onnx`, docs/onnx-rewrite.md), at batch 1 and 4,
 * from onnxruntime's own profiler (`enableProfiling`: one event per kernel run).
 *
 * Each configuration: a session with the engine's options (one intra-op thread), the bench prompt
 * prefilled for every row, then `--steps` greedy decode steps through the engine's OnnxDecoder
 * (so each graph is fed by its own cache contract), each forward call timed as JavaScript sees it
 * (feeds, run, outputs). Then the same with the profiler on (it adds to every kernel, so its
 * times are for the shares): the decode steps' kernel events summed by op type, and the run as
 * onnxruntime times it (`model_run`).
 *
 * Usage: node dist/bench/graph-profile.js [--steps 300] [--out bench/results/graph-profile.json]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { rewriteAppendingDecoder } from '../scripts/onnx/rewrite-decoder.js';
import { OnnxDecoder, type DecoderShape } from '../src/engine/embedded/onnx-decoder.js';
import { transformersJs } from '../src/engine/transformers-js.js';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import { packageRoot } from '../src/internal/package-root.js';
import { loadTokenizer } from '../src/engine/tokenizer.js';
import { resolveModelSource } from '../src/engine/model-source.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { GRAPH_PROFILE_RESULT, type GraphProfile, type GraphProfileResult } from './graph-profile-report.js';
import { machineDuring, round3 } from './side-by-side.js';

/**
 * The graphs: the export, the appending graph as the rewrite tools made it before its shapes were
 * folded (built in memory), and the bundled appending graph.
 */
const GRAPHS = {
  exported: 'onnx/model_quantized.onnx',
  'rewritten, shapes not folded': 'rewriteAppendingDecoder(onnx/model_quantized.onnx), in memory',
  rewritten: 'onnx/model_append_quantized.onnx',
} as const;
type GraphName = keyof typeof GRAPHS;
const PROBLEM = 'Compute 76*84 + 24*30 + 87*81 + 82*55.';

/** One event of onnxruntime's profile (Chrome trace format). */
interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

function argmax(logits: Float32Array, row: number, vocab: number): number {
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[row * vocab + v]! > logits[row * vocab + best]!) best = v;
  return best;
}

/** A session on `model` with the engine's options; with the profiler on when `profileFilePrefix` is given. */
function session(model: Uint8Array, profileFilePrefix?: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
    ...(profileFilePrefix ? { enableProfiling: true, profileFilePrefix } : {}),
  });
}

/** The prompt prefilled for `batch` rows, then `steps` greedy decode steps; the forward calls' ms. */
async function decode(s: ort.InferenceSession, batch: number, steps: number, prompt: number[], shape: DecoderShape) {
  const decoder = new OnnxDecoder(s, shape);
  const rows = Array.from({ length: batch }, () => prompt);
  let { lastLogits, present } = await decoder.forward(
    {
      ids: rows,
      positions: rows.map((r) => r.map((_, i) => i)),
      mask: rows.map((r) => r.map(() => 1)),
    },
    decoder.empty(batch),
  );
  const jsMs: number[] = [];
  for (let step = 0; step < steps; step++) {
    const next = rows.map((_, b) => [argmax(lastLogits, b, shape.vocab)]);
    const length = prompt.length + step;
    const t0 = performance.now();
    ({ lastLogits, present } = await decoder.forward(
      {
        ids: next,
        positions: next.map(() => [length]),
        mask: next.map(() => Array.from({ length: length + 1 }, () => 1)),
      },
      present,
    ));
    jsMs.push(performance.now() - t0);
  }
  return jsMs;
}

async function profileOne(
  model: Uint8Array,
  graph: GraphName,
  batch: number,
  steps: number,
  prompt: number[],
  shape: DecoderShape,
): Promise<GraphProfile> {
  // Timed without the profiler (it adds its own cost to every kernel), then profiled.
  const plain = await session(model);
  const jsMs = await decode(plain, batch, steps, prompt, shape);
  await plain.release();
  const prefix = path.join(await mkdtemp(path.join(os.tmpdir(), 'tw-profile-')), 'run');
  const profiled = await session(model, prefix);
  await decode(profiled, batch, steps, prompt, shape);
  // onnxruntime writes the profile to `<prefix>_<date>.json` when profiling ends.
  profiled.endProfiling();
  await profiled.release();
  const written = (await readdir(path.dirname(prefix))).filter((f) => f.endsWith('.json'));
  if (written.length !== 1) throw new Error(`profile of ${graph} × ${batch}: ${written.length} profile files`);
  const events = JSON.parse(await readFile(path.join(path.dirname(prefix), written[0]!), 'utf8')) as TraceEvent[];
  await rm(path.dirname(prefix), { recursive: true, force: true });

  // The runs in order: the first is the prefill, the rest are the decode steps.
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  if (runs.length !== steps + 1)
    throw new Error(`profile of ${graph} × ${batch}: ${runs.length} runs, expected ${steps + 1}`);
  const decodeFrom = runs[1]!.ts;
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= decodeFrom);
  const byOp = new Map<string, { us: number; count: number }>();
  for (const e of kernels) {
    const op = e.args?.op_name ?? 'unknown';
    const entry = byOp.get(op) ?? { us: 0, count: 0 };
    entry.us += e.dur;
    entry.count++;
    byOp.set(op, entry);
  }
  const kernelUs = kernels.reduce((a, e) => a + e.dur, 0);
  const runUs = runs.slice(1).reduce((a, e) => a + e.dur, 0);
  const sortedJs = [...jsMs].sort((a, b) => a - b);
  return {
    graph,
    file: GRAPHS[graph],
    batch,
    steps,
    context: { from: prompt.length, to: prompt.length + steps },
    nodesPerStep: round3(kernels.length / steps),
    msPerStep: {
      kernels: round3(kernelUs / 1000 / steps),
      run: round3(runUs / 1000 / steps),
      forwardMedian: round3(sortedJs[sortedJs.length >> 1]!),
      forwardMean: round3(jsMs.reduce((a, x) => a + x, 0) / steps),
    },
    byOpType: [...byOp.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .map(([op, { us, count }]) => ({
        op,
        msPerStep: round3(us / 1000 / steps),
        share: round3(us / kernelUs),
        nodesPerStep: round3(count / steps),
      })),
  };
}

export async function runGraphProfile(steps: number): Promise<GraphProfileResult> {
  const loadBefore = os.loadavg();
  const started = Date.now();
  await transformersJs();
  const source = resolveModelSource();
  if (source.kind !== 'local') throw new Error('graph profile: the bundled model is a local folder');
  const tokenizer = await loadTokenizer(source);
  const config = JSON.parse(await readFile(path.join(source.dir, 'config.json'), 'utf8')) as Record<string, number>;
  const shape: DecoderShape = {
    layers: config.num_hidden_layers!,
    kvHeads: config.num_key_value_heads!,
    headDim: config.hidden_size! / config.num_attention_heads!,
    vocab: config.vocab_size!,
  };
  const prompt = tokenizer.encode(buildPrompt(tokenizer, PROBLEM, 'parallel'));
  const exported = await readFile(path.join(source.dir, GRAPHS.exported));
  const models: Record<GraphName, Uint8Array> = {
    exported,
    'rewritten, shapes not folded': rewriteAppendingDecoder(exported, {
      heads: config.num_attention_heads!,
      kvHeads: shape.kvHeads,
      headDim: shape.headDim,
    }),
    rewritten: await readFile(path.join(source.dir, GRAPHS.rewritten)),
  };
  const profiles: GraphProfile[] = [];
  // Configurations in turn, twice, the second pass kept: the first warms the machine's caches.
  const order = (Object.keys(GRAPHS) as GraphName[]).flatMap((g) => [1, 4].map((b) => [g, b] as const));
  for (const pass of [0, 1])
    for (const [graph, batch] of order) {
      process.stderr.write(`  ${graph} × ${batch}${pass === 0 ? ' (warm-up)' : ''}\n`);
      const p = await profileOne(models[graph], graph, batch, steps, prompt, shape);
      if (pass === 1) profiles.push(p);
    }
  return {
    benchmark: 'graph-profile',
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: machineDuring(loadBefore),
    onnxruntime: ort.env.versions.common,
    config: {
      problem: PROBLEM,
      promptTokens: prompt.length,
      steps,
      intraOpThreads: 1,
      how: "onnxruntime-node sessions; greedy decode steps through OnnxDecoder, timed without the profiler, then run again with enableProfiling and the decode steps' kernel events summed by op type",
    },
    profiles,
  };
}

const isMain =
  process.argv[1] &&
  path.resolve(process.argv[1]).replace(/\.ts$/, '.js').endsWith(path.join('bench', 'graph-profile.js'));
if (isMain) {
  const { values } = parseArgs({ options: { steps: { type: 'string' }, out: { type: 'string' } } });
  const result = await runGraphProfile(Number(values.steps ?? 300));
  const out = values.out ?? GRAPH_PROFILE_RESULT;
  await writeFileAtomic(out, jsonText(result));
  for (const p of result.profiles)
    console.log(
      `${p.graph} × ${p.batch}: ${p.msPerStep.kernels} ms in ${p.nodesPerStep} kernels per step (run ${p.msPerStep.run} ms, forward ${p.msPerStep.forwardMedian} ms); ` +
        p.byOpType
          .slice(0, 5)
          .map((o) => `${o.op} ${(o.share * 100).toFixed(0)}%`)
          .join(', '),
    );
  console.log(
    `load average ${result.machine.loadAverageBefore[0]} → ${result.machine.loadAverageAfter[0]}; wrote ${path.relative(packageRoot(), out)}`,
  );
}
