/** The affinity results (bench/affinity.ts) and their section of bench/RESULTS.md. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Balance } from './fleet.js';
import { machineNote, type RecordedMachine } from './machine.js';
import { benchRoot } from './side-by-side.js';

export const AFFINITY_RESULT = path.join(benchRoot, 'bench/results/affinity.json');

/** One configuration's figures for one mode. */
export interface AffinityFigures {
  samples: number;
  promptTokens: number;
  cachedPromptTokens: number;
  /** cached ÷ prompt. */
  cachedShare: number;
  /** (prompt − cached) per sample: what the servers prefilled. */
  prefilledPerSample: number;
  /** The same by phase. */
  prefilledPerSampleByPhase: { sequential: number; threadStarts: number; afterJoin: number };
  /** Mean wall time per sample (its row's wallMs). */
  wallMsPerSample: number;
  /** Share of samples whose calls all reached one server (the servers' request logs). */
  oneServer: number;
}

export interface AffinityResult {
  benchmark: 'affinity';
  date: string;
  machine: RecordedMachine & {
    haproxy: string;
    uptimeBefore: string;
    uptimeAfter: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  config: {
    servers: number;
    dataset: string;
    problems: number;
    chunk: number;
    concurrency: number;
    maxTokens: number;
    maxConcurrentPerServer: number;
  };
  /** Total wall clock of each configuration's eval runs, s (chunks in turn, the first one alternating). */
  wallSeconds: Record<Balance, number>;
  modes: Record<'parallel' | 'sequential', Record<Balance, AffinityFigures>>;
  /** Samples whose text was the same in both configurations (greedy: a cache changes speed, never tokens). */
  identicalTexts: { same: number; of: number };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);

/** The table of both configurations, per mode (markdown). */
export function affinityTable(r: AffinityResult): string {
  const lines = [
    '| mode | routing | samples | on one server | cached share | prefilled / sample | … sequential | … thread starts | … after joins | wall / sample s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const mode of ['parallel', 'sequential'] as const) {
    for (const b of ['affinity', 'roundrobin'] as const) {
      const x = r.modes[mode][b];
      const p = x.prefilledPerSampleByPhase;
      lines.push(
        `| ${mode} | ${b === 'affinity' ? 'hdr(X-Session-ID)' : 'roundrobin'} | ${x.samples} | ${pct(x.oneServer)} | ${pct(x.cachedShare)} | ${f0(x.prefilledPerSample)} | ${f0(p.sequential)} | ${f0(p.threadStarts)} | ${f0(p.afterJoin)} | ${f2(x.wallMsPerSample / 1000)} |`,
      );
    }
  }
  return lines.join('\n');
}

/** The section of bench/RESULTS.md (empty until measured). */
export function affinitySection(reference: RecordedMachine): string {
  if (!existsSync(AFFINITY_RESULT)) return '';
  const r = JSON.parse(readFileSync(AFFINITY_RESULT, 'utf8')) as AffinityResult;
  const m = r.machine;
  const par = r.modes.parallel;
  return `
## Affinity through HAProxy (\`node dist/bench/affinity.js\`)

${machineNote(m, reference)}${r.date.slice(0, 10)}; ${m.cpu}, ${m.cores} cores, ${m.haproxy}; \`uptime\` before: ${m.uptimeBefore}; after: ${m.uptimeAfter}.
The same eval (${r.config.dataset}, ${r.config.problems} problems, both modes, greedy, --concurrency ${r.config.concurrency},
--max-tokens ${r.config.maxTokens}) through HAProxy in front of ${r.config.servers} \`threadweaver serve\` (--max-concurrent
${r.config.maxConcurrentPerServer}) balancing on the sample's X-Session-ID (consistent hashing) and round robin; fresh servers
per configuration; ${r.config.chunk} problems at a time, the two configurations in turn (the first alternating). Cached =
the servers' \`usage.prompt_tokens_details.cached_tokens\`; prefilled = prompt − cached.

${affinityTable(r)}

- Parallel mode: ${pct(par.affinity.cachedShare)} of prompt tokens from cache with affinity, ${pct(par.roundrobin.cachedShare)} round robin;
  prefill per sample ${f0(par.affinity.prefilledPerSample)} against ${f0(par.roundrobin.prefilledPerSample)} tokens
  (${f2(par.roundrobin.prefilledPerSample / par.affinity.prefilledPerSample)}× less with affinity).
- Wall clock of all runs: ${f2(r.wallSeconds.affinity)} s with affinity, ${f2(r.wallSeconds.roundrobin)} s round robin
  (${f2(r.wallSeconds.roundrobin / r.wallSeconds.affinity)}×).
- Same text in both configurations: ${r.identicalTexts.same} of ${r.identicalTexts.of} samples.
`;
}
