/** The prompt-level forks results (bench/decompose.ts) and their section of bench/RESULTS.md. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { machineNote, type RecordedMachine } from './machine.js';

const root = path.resolve(
  import.meta.dirname,
  '..',
  existsSync(path.resolve(import.meta.dirname, '..', 'package.json')) ? '' : '..',
);
export const DECOMPOSE_RESULT = path.join(root, 'bench/results/decompose.json');

export interface DecomposeRow {
  prompt: string;
  parts: number;
  /** Medians over the rounds, ms. */
  serialMs: number;
  decomposedMs: number;
  wholeMs: number;
  /** serial ÷ decomposed. */
  speedup: number;
  tokens: { parts: number[]; criticalPath: number; whole: number };
  correct: { decomposed: boolean; whole: boolean };
  /** The batch wrote each part's tokens exactly as the part alone. */
  identical: boolean;
}

export interface DecomposeResult {
  benchmark: 'decompose';
  date: string;
  /** Load averages: the 1-, 5- and 15-minute ones (older results: the 1-minute one alone). */
  machine: RecordedMachine & { loadAverageBefore: number | number[]; loadAverageAfter: number | number[] };
  config: { model: string; dtype: string; greedy: boolean; rounds: number; extractor: string };
  example: DecomposeRow;
  byParts: {
    parts: number;
    prompts: number;
    serialMs: number;
    decomposedMs: number;
    speedup: number;
    criticalPathRatio: number;
  }[];
  identical: number;
  correct: { decomposed: number; whole: number; of: number };
  rows: DecomposeRow[];
}

const oneMinute = (load: number | number[]): number => (Array.isArray(load) ? load[0]! : load);

/** The section of bench/RESULTS.md for prompt-level forks (empty until measured). */
export function decomposeSection(reference: RecordedMachine): string {
  if (!existsSync(DECOMPOSE_RESULT)) return '';
  const r = JSON.parse(readFileSync(DECOMPOSE_RESULT, 'utf8')) as DecomposeResult;
  const f2 = (x: number) => x.toFixed(2);
  const ms = (x: number) => x.toFixed(0);
  const e = r.example;
  return `
## Prompt-level forks (\`--decompose\`)

${machineNote(r.machine, reference)}\`node dist/bench/decompose.js\` (${r.date.slice(0, 10)}, load average ${oneMinute(r.machine.loadAverageBefore)} → ${oneMinute(r.machine.loadAverageAfter)}, median of ${r.config.rounds} rounds, configurations in turn):
"Compute each of: …" prompts split by the rule-based extractor. Serial = the same part prompts answered one after
another; decomposed = one sibling batch (\`solve(prompt, { decompose: 'rules' })\`); whole = the prompt put to the
model as one task.

| prompt | parts | serial ms | decomposed ms | serial ÷ decomposed | whole ms | part tokens | decomposed right | whole right |
| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |
${r.rows.map((x) => `| ${x.prompt} | ${x.parts} | ${ms(x.serialMs)} | ${ms(x.decomposedMs)} | ${f2(x.speedup)}× | ${ms(x.wholeMs)} | ${x.tokens.parts.join(', ')} | ${x.correct.decomposed ? 'yes' : 'no'} | ${x.correct.whole ? 'yes' : 'no'} |`).join('\n')}

| parts | prompts | serial ms | decomposed ms | serial ÷ decomposed | tokens ÷ critical path |
| ---: | ---: | ---: | ---: | ---: | ---: |
${r.byParts.map((g) => `| ${g.parts} | ${g.prompts} | ${ms(g.serialMs)} | ${ms(g.decomposedMs)} | ${f2(g.speedup)}× | ${f2(g.criticalPathRatio)}× |`).join('\n')}

- The example prompt (${e.parts} parts): ${ms(e.serialMs)} ms serial, ${ms(e.decomposedMs)} ms decomposed: **${f2(e.speedup)}×**.
- Decomposed answers right on ${r.correct.decomposed}/${r.correct.of} prompts; the whole prompt as one task on ${r.correct.whole}/${r.correct.of} (the bundled model was never trained on lists).
- The batch wrote each part's tokens exactly as the part alone on ${r.identical}/${r.rows.length} prompts.
`;
}
