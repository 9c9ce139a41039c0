/** The llama-cpp engine's results (bench/llama-cpp.ts) and their section of bench/RESULTS.md. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/internal/package-root.js';
import { machineNote, type RecordedMachine } from './machine.js';

export const LLAMA_CPP_RESULT = path.join(packageRoot(), 'bench/results/llama-cpp.json');

type Types = 'f32' | 'f16' | 'q8_0';

export interface LlamaCppResult {
  benchmark: 'llama-cpp';
  date: string;
  machine: RecordedMachine & { loadAverageBefore: number[]; loadAverageAfter: number[] };
  config: {
    nodeLlamaCpp: string;
    backend: string;
    threads: number;
    rounds: number;
    onnx: string;
    steps: number;
    prefixTokens: number;
  };
  conversion: Record<Types, { ms: number; bytes: number }>;
  /** Tokens/s medians and llama.cpp ÷ ONNX. */
  singleStream: Record<Types, { onnx: number; llamaCpp: number; ratio: number }>;
  /** Per engine, per rows k: median ms per decode step, and that ÷ one row's. */
  stepMs: Record<string, Record<string, { ms: number; vsOneRow: number }>>;
  solve: {
    problems: number;
    source: string;
    byEngine: Record<string, { ms: number; correct: number; sameTextAsOnnx: number; vsOnnx: number }>;
  };
  sampler: { msPerToken: { threadweaver: number; llamaCpp: number }; extraMsPerToken: number };
  fork: { copies: number; msPerCopy: number };
}

/** The section of bench/RESULTS.md for the llama-cpp engine (empty until measured). */
export function llamaCppSection(reference: RecordedMachine): string {
  if (!existsSync(LLAMA_CPP_RESULT)) return '';
  const r = JSON.parse(readFileSync(LLAMA_CPP_RESULT, 'utf8')) as LlamaCppResult;
  const f2 = (x: number) => x.toFixed(2);
  const types = Object.keys(r.singleStream) as Types[];
  const engines = Object.keys(r.stepMs);
  const ks = Object.keys(r.stepMs[engines[0]!]!);
  return `
## The llama-cpp engine beside the ONNX engine

${machineNote(r.machine, reference)}\`node dist/bench/llama-cpp.js\` (${r.date.slice(0, 10)}, ${r.machine.cpu}, ${r.machine.cores} cores, load average
${r.machine.loadAverageBefore.map(f2).join(' ')} → ${r.machine.loadAverageAfter.map(f2).join(' ')}, node-llama-cpp ${r.config.nodeLlamaCpp},
${r.config.backend}, ${r.config.threads} thread, median of ${r.config.rounds} rounds, engines in turn): the bundled model converted
to GGUF by \`threadweaver gguf\` against the ${r.config.onnx}.

| | ${types.join(' | ')} |
| --- | ${types.map(() => '---:').join(' | ')} |
| single stream, llama.cpp tokens/s | ${types.map((t) => r.singleStream[t].llamaCpp.toFixed(0)).join(' | ')} |
| single stream, ONNX tokens/s (same rounds) | ${types.map((t) => r.singleStream[t].onnx.toFixed(0)).join(' | ')} |
| llama.cpp ÷ ONNX | ${types.map((t) => f2(r.singleStream[t].ratio) + '×').join(' | ')} |
| GGUF size MB | ${types.map((t) => (r.conversion[t].bytes / 1e6).toFixed(1)).join(' | ')} |

The cost of k rows: ms per decode step of a sibling batch after a ${r.config.prefixTokens}-token block prefix
(${r.config.steps} steps), and that ÷ one row's.

| engine | ${ks.map((k) => `${k} row${k === '1' ? '' : 's'}`).join(' | ')} |
| --- | ${ks.map(() => '---:').join(' | ')} |
${engines.map((e) => `| ${e} | ${ks.map((k) => `${f2(r.stepMs[e]![k]!.ms)} ms (${f2(r.stepMs[e]![k]!.vsOneRow)}×)`).join(' | ')} |`).join('\n')}

Orchestrated fork/join \`solve\` on ${r.solve.source}:

| engine | wall s | ÷ ONNX | correct | text byte-identical to ONNX |
| --- | ---: | ---: | ---: | ---: |
${Object.entries(r.solve.byEngine)
  .map(
    ([e, x]) =>
      `| ${e} | ${(x.ms / 1000).toFixed(1)} | ${f2(x.vsOnnx)}× | ${x.correct}/${r.solve.problems} | ${x.sameTextAsOnnx}/${r.solve.problems} |`,
  )
  .join('\n')}

- Sampled decoding (temperature 0.8, F32): ${f2(r.sampler.msPerToken.threadweaver)} ms/token with our sampler over llama.cpp's
  candidates, ${f2(r.sampler.msPerToken.llamaCpp)} ms/token with llama.cpp's own: ours − theirs = ${f2(r.sampler.extraMsPerToken)} ms/token
  at a vocabulary of 110 (the candidates are capped at 256 whatever the vocabulary).
- The fork: ${r.fork.copies} state copies (a save and loads of the prefix's KV cells), ${f2(r.fork.msPerCopy)} ms each.

On this model and CPU the ONNX engine is the faster: a llama.cpp decode step of the 3.4M model is mostly the fixed cost
of llama.cpp and node-llama-cpp (building the step's graph, two hops to a worker thread), and each row adds its own
compute. On a GPU the picture changes (not measured here: this machine has none): a decode step of a large model is
bound by reading the weights once, which the rows of a batch share, so the k threads of a block cost about one row
until their arithmetic catches up with that read. See [docs/llama-cpp.md](../docs/llama-cpp.md).
`;
}
