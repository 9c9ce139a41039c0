/** The per-node-type profile of the decoder graphs (bench/graph-profile.ts) and its section of bench/RESULTS.md. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/internal/package-root.js';
import { machineNote, type RecordedMachine } from './machine.js';

export const GRAPH_PROFILE_RESULT = path.join(packageRoot(), 'bench/results/graph-profile.json');

export interface GraphProfile {
  graph: 'exported' | 'rewritten, shapes not folded' | 'rewritten';
  file: string;
  batch: number;
  steps: number;
  /** Positions in the cache at the first and after the last decode step. */
  context: { from: number; to: number };
  nodesPerStep: number;
  /** Per decode step: kernel time summed, the run as onnxruntime times it, the forward call as JavaScript sees it. */
  msPerStep: { kernels: number; run: number; forwardMedian: number; forwardMean: number };
  byOpType: { op: string; msPerStep: number; share: number; nodesPerStep: number }[];
}

export interface GraphProfileResult {
  benchmark: 'graph-profile';
  date: string;
  durationS: number;
  machine: RecordedMachine & { loadAverageBefore: number[]; loadAverageAfter: number[] };
  onnxruntime: string;
  config: { problem: string; promptTokens: number; steps: number; intraOpThreads: number; how: string };
  profiles: GraphProfile[];
}

/** The op types worth a column: the largest ones over all profiles, the rest summed. */
function topOps(profiles: readonly GraphProfile[], n: number): string[] {
  const total = new Map<string, number>();
  for (const p of profiles) for (const o of p.byOpType) total.set(o.op, (total.get(o.op) ?? 0) + o.msPerStep);
  return [...total.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([op]) => op);
}

/** The section of bench/RESULTS.md for the graph profile (empty until measured). */
export function graphProfileSection(reference: RecordedMachine): string {
  if (!existsSync(GRAPH_PROFILE_RESULT)) return '';
  const r = JSON.parse(readFileSync(GRAPH_PROFILE_RESULT, 'utf8')) as GraphProfileResult;
  const ops = topOps(r.profiles, 7);
  const f2 = (x: number) => x.toFixed(2);
  const f3 = (x: number) => x.toFixed(3);
  const rows = r.profiles.map((p) => {
    const of = (op: string) => p.byOpType.find((o) => o.op === op)?.msPerStep ?? 0;
    const rest = p.msPerStep.kernels - ops.reduce((a, op) => a + of(op), 0);
    return `| ${p.graph} | ${p.batch} | ${f2(p.msPerStep.forwardMedian)} | ${f2(p.msPerStep.run)} | ${f2(p.msPerStep.kernels)} | ${p.nodesPerStep.toFixed(0)} | ${ops.map((op) => f3(of(op))).join(' | ')} | ${f3(rest)} |`;
  });
  return `
## Decode step by node type: the exported graph against the rewritten one

${machineNote(r.machine, reference)}\`node dist/bench/graph-profile.js\` (${r.date.slice(0, 10)}, load average ${r.machine.loadAverageBefore[0]} → ${r.machine.loadAverageAfter[0]}, onnxruntime ${r.onnxruntime}, one thread, its profiler on):
${r.config.steps} greedy decode steps after the ${r.config.promptTokens}-token bench prompt (context ${r.profiles[0]?.context.from}–${r.profiles[0]?.context.to}), each row the same;
ms per step. "forward" is the engine's call as JavaScript times it, without the profiler (median); with the profiler on, "run" is onnxruntime's timing of the run and "kernels" the sum of its kernel events, by op type in the other columns (the profiler adds to each kernel, so read those as shares).

| graph | batch | forward | run | kernels | kernels per step | ${ops.join(' | ')} | other |
| --- | ---: | ---: | ---: | ---: | ---: | ${ops.map(() => '---:').join(' | ')} | ---: |
${rows.join('\n')}
`;
}
