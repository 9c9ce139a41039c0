/**
 * The llama-cpp engine beside the ONNX engine on the bundled model, in one process, configurations
 * in turn each round: the model converted to GGUF (F32, F16, Q8_0) and run by llama.cpp's prebuilt
 * CPU build through node-llama-cpp, against the bundled q8 ONNX graph. One CPU thread each (the
 * model's ops are too small to split). Measured:
 *
 *   1. single stream: tokens/s of a 400-token completion;
 *   2. the cost of k rows: ms per decode step of a sibling batch of 1–4 threads after a real block's prefix;
 *   3. orchestrated fork/join `solve` on benchmark problems: wall time, answers, texts byte for byte;
 *   4. the sampler: sampled decoding with our sampler over llama.cpp's candidates and with llama.cpp's own;
 *   5. the fork: the state copy that gives each thread the prefix.
 *
 *   node dist/bench/llama-cpp.js [--rounds 5] [--problems 20]   → bench/results/llama-cpp.json, bench/RESULTS.md
 *
 * Needs the model's Hugging Face weights (../shared/models/tiny-threadweaver/model.safetensors).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateArith } from '../eval/arith.js';
import { TransformersEngine } from '../src/engine/embedded/transformers.js';
import { convertToGguf, GGUF_WEIGHT_TYPES, type GgufWeightType } from '../src/engine/llama-cpp/convert.js';
import { LlamaCppEngine } from '../src/engine/llama-cpp/engine.js';
import { NODE_LLAMA_CPP_VERSION } from '../src/engine/llama-cpp/native.js';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import { packageRoot } from '../src/internal/package-root.js';
import { buildPrompt } from '../src/orchestrator/prompt.js';
import { solve } from '../src/solve/solve.js';
import { renderResults, type DecodingResult } from './decoding.js';
import { LLAMA_CPP_RESULT, type LlamaCppResult } from './llama-cpp-report.js';
import { machineDuring, median, round3, singleStreamSideBySide, type ClearableEngine } from './side-by-side.js';

const root = packageRoot();
const { values } = parseArgs({ options: { rounds: { type: 'string' }, problems: { type: 'string' } } });
const rounds = Number(values.rounds ?? 5);
const problemCount = Number(values.problems ?? 20);

const hfDir = path.resolve(root, '../shared/models/tiny-threadweaver');
if (!existsSync(path.join(hfDir, 'model.safetensors'))) {
  console.error(
    `llama-cpp bench: ${hfDir}/model.safetensors is absent (the weights the GGUF files are made of): skipped`,
  );
  process.exit(0);
}
const loadBefore = os.loadavg();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-llama-bench-'));

// 0. The GGUF files.
const conversion = {} as LlamaCppResult['conversion'];
const files = {} as Record<GgufWeightType, string>;
for (const type of GGUF_WEIGHT_TYPES) {
  const t0 = performance.now();
  const r = await convertToGguf({ model: hfDir, out: path.join(tmp, `tiny-threadweaver-${type}.gguf`), type });
  conversion[type] = { ms: round3(performance.now() - t0), bytes: r.bytes };
  files[type] = r.out;
}
const onnx = await TransformersEngine.load({ threads: 1 });
const llama = {} as Record<GgufWeightType, LlamaCppEngine>;
for (const type of GGUF_WEIGHT_TYPES)
  llama[type] = await LlamaCppEngine.load({ model: files[type], gpu: false, threads: 1 });
const named: [string, ClearableEngine][] = [
  ['onnx q8', onnx],
  ...GGUF_WEIGHT_TYPES.map((t) => [`llama.cpp ${t}`, llama[t]] as [string, ClearableEngine]),
];

// 1. Single stream, each GGUF type against the ONNX engine.
const singleStream = {} as LlamaCppResult['singleStream'];
for (const type of GGUF_WEIGHT_TYPES) {
  const r = await singleStreamSideBySide({ before: onnx, after: llama[type] }, rounds);
  singleStream[type] = { onnx: r.tokensPerSecond.before, llamaCpp: r.tokensPerSecond.after, ratio: r.ratio };
  console.log(`single stream ${type}: llama.cpp ÷ onnx ${r.ratio}`);
}

// 2. The cost of k rows: a real block's prefix, k thread headers, 64 tokens each.
const problem = 'Compute 37*24 + 18*53 - 29*11.';
const prompt = buildPrompt(onnx.tokenizer, problem, 'parallel');
const head = await onnx.complete({ prompt, maxTokens: 400, stop: ['</Outlines>'] });
const prefix = [...onnx.tokenizer.encode(prompt), ...head.ids];
const headers = [1, 2, 3, 4].map((n) => onnx.tokenizer.encode(`\n<Thread>\n${n}:`));
const STEPS = 64;
const stepSamples: Record<string, Record<string, number[]>> = {};
for (let round = 0; round < rounds; round++) {
  for (const k of [1, 2, 3, 4]) {
    for (const [name, e] of round % 2 ? [...named].reverse() : named) {
      await e.clearCache();
      const out = await e.completeSiblings(prefix, headers.slice(0, k), { maxTokens: STEPS });
      const longest = Math.max(...out.map((r) => r.ids.length));
      const decodeMs = Math.max(...out.map((r) => r.endMs)) - out[0]!.startMs - (out[0]!.usage.prefillMs ?? 0);
      ((stepSamples[name] ??= {})[k] ??= []).push(decodeMs / longest);
    }
  }
}
const stepMs: LlamaCppResult['stepMs'] = {};
for (const [name, byK] of Object.entries(stepSamples)) {
  const one = median(byK[1]!);
  stepMs[name] = Object.fromEntries(
    Object.entries(byK).map(([k, xs]) => [k, { ms: round3(median(xs)), vsOneRow: round3(median(xs) / one) }]),
  );
}
console.log('step ms', JSON.stringify(stepMs));

// 3. Orchestrated solve on benchmark problems (fork/join), engines in turn per problem.
const shared = path.resolve(root, '../shared/benchmarks/arith500.jsonl');
const problems = existsSync(shared)
  ? readFileSync(shared, 'utf8')
      .split('\n')
      .filter(Boolean)
      .slice(0, problemCount)
      .map((l) => JSON.parse(l) as { problem: string; answer: string })
  : generateArith(problemCount, 2026).map((t) => ({ problem: t.problem, answer: t.answer }));
const solveTotals: Record<string, { ms: number; correct: number; sameTextAsOnnx: number }> = {};
for (const [i, p] of problems.entries()) {
  const texts: Record<string, string> = {};
  for (const [name, e] of i % 2 ? [...named].reverse() : named) {
    await e.clearCache();
    const t0 = performance.now();
    const r = await solve(p.problem, { engine: e, mode: 'parallel' });
    const t = (solveTotals[name] ??= { ms: 0, correct: 0, sameTextAsOnnx: 0 });
    t.ms += performance.now() - t0;
    t.correct += Number(r.answer === String(p.answer));
    texts[name] = r.text;
  }
  for (const name of Object.keys(texts)) solveTotals[name]!.sameTextAsOnnx += Number(texts[name] === texts['onnx q8']);
}
const solveResult: LlamaCppResult['solve'] = {
  problems: problems.length,
  source: existsSync(shared) ? `arith500.jsonl (first ${problems.length})` : `built-in arith generator, seed 2026`,
  byEngine: Object.fromEntries(
    Object.entries(solveTotals).map(([name, t]) => [
      name,
      { ...t, ms: round3(t.ms), vsOnnx: round3(t.ms / solveTotals['onnx q8']!.ms) },
    ]),
  ),
};
console.log('solve', JSON.stringify(solveResult.byEngine));

// 4. Sampled decoding: our sampler over llama.cpp's candidates against llama.cpp's own.
const native = await LlamaCppEngine.load({ model: files.f32, gpu: false, threads: 1, sampler: 'llama.cpp' });
const sampled: Record<'threadweaver' | 'llama.cpp', number[]> = { threadweaver: [], 'llama.cpp': [] };
for (let round = 0; round < rounds; round++) {
  const order = round % 2 ? (['threadweaver', 'llama.cpp'] as const) : (['llama.cpp', 'threadweaver'] as const);
  for (const which of order) {
    const e = which === 'threadweaver' ? llama.f32 : native;
    await e.clearCache();
    const t0 = performance.now();
    const r = await e.complete({ prompt, maxTokens: 400, temperature: 0.8, topP: 0.95, seed: round });
    sampled[which].push((performance.now() - t0) / Math.max(1, r.ids.length));
  }
}
const sampler: LlamaCppResult['sampler'] = {
  msPerToken: { threadweaver: round3(median(sampled.threadweaver)), llamaCpp: round3(median(sampled['llama.cpp'])) },
  extraMsPerToken: round3(median(sampled.threadweaver) - median(sampled['llama.cpp'])),
};

// 5. The fork's state copies, over everything above.
const copies = GGUF_WEIGHT_TYPES.reduce((n, t) => n + llama[t].stats.forkCopies, 0);
const copyMs = GGUF_WEIGHT_TYPES.reduce((n, t) => n + llama[t].stats.copyMs, 0);

const result: LlamaCppResult = {
  benchmark: 'llama-cpp',
  date: new Date().toISOString(),
  machine: machineDuring(loadBefore),
  config: {
    nodeLlamaCpp: NODE_LLAMA_CPP_VERSION,
    backend: 'CPU (prebuilt)',
    threads: 1,
    rounds,
    onnx: 'bundled q8 graph (onnx/model_append_quantized.onnx), TransformersEngine defaults',
    steps: STEPS,
    prefixTokens: prefix.length,
  },
  conversion,
  singleStream,
  stepMs,
  solve: solveResult,
  sampler,
  fork: { copies, msPerCopy: round3(copies ? copyMs / copies : 0) },
};
await writeFileAtomic(LLAMA_CPP_RESULT, jsonText(result));
for (const e of [...Object.values(llama), native]) await e.close();
rmSync(tmp, { recursive: true, force: true });
// RESULTS.md again, with this section.
await renderResults(JSON.parse(readFileSync(path.join(root, 'bench/results/decoding.json'), 'utf8')) as DecodingResult);
console.log(`wrote ${LLAMA_CPP_RESULT}`);
