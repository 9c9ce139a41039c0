/** The cascade-attention results (bench/cascade.ts) and their section of bench/RESULTS.md. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/internal/package-root.js';
import { machineNote, type RecordedMachine } from './machine.js';

export const CASCADE_RESULT = path.join(packageRoot(), 'bench/results/cascade.json');

/** The engines C runs on: rows on copies of the prefix, the default engine, and the cascade for every sibling call. */
export const CONFIGS = ['copies', 'default', 'always'] as const;
export type Config = (typeof CONFIGS)[number];
type Side = Record<string, number>;

export interface CascadeProblems {
  problems: number;
  wallMs: Record<string, number>;
  wallBC: Record<Config, number>;
}

export interface CascadeResult {
  benchmark: 'cascade';
  date: string;
  durationS: number;
  graphs: { before: string; after: string };
  defaultCascadeMinPrefix: number;
  machine: RecordedMachine & { loadAverageBefore: number[]; loadAverageAfter: number[] };
  /** Per context: one plain row's ms, and 1–4 sibling rows relative to it, on copies (before) and with the cascade (after). */
  stepCostRelativeToOne: Record<string, { plainMs: number; before: Side; after: Side }>;
  forkAndDrop: {
    prefix: number;
    rows: number;
    forkMs: { before: number; after: number };
    dropMs: { before: number; after: number };
  };
  /** Per prefix length and thread count: a whole block's ms. */
  blocks: Record<string, Record<string, { before: number; after: number; speedup: number }>>;
  singleStream: { tokensPerSecond: { before: number; after: number }; ratio: number; rounds: number };
  problems: {
    all: CascadeProblems;
    threePlusThreads: CascadeProblems;
    identicalToCopies: { default: number; always: number; of: number };
  };
  problemsDetail: {
    id: string;
    threads: number;
    ms: Record<string, number>;
    sameAsCopies: Record<Exclude<Config, 'copies'>, boolean>;
  }[];
}

/** The section of bench/RESULTS.md for cascade attention (empty until measured). */
export function cascadeSection(reference: RecordedMachine): string {
  if (!existsSync(CASCADE_RESULT)) return '';
  const r = JSON.parse(readFileSync(CASCADE_RESULT, 'utf8')) as CascadeResult;
  const f2 = (x: number) => x.toFixed(2);
  const steps = Object.entries(r.stepCostRelativeToOne).flatMap(([ctx, v]) =>
    (['before', 'after'] as const).map(
      (w) =>
        `| ${ctx} | ${w === 'before' ? 'copies' : 'cascade'} | ${f2(v.plainMs)} | ${[1, 2, 3, 4].map((b) => f2(v[w][`batch${b}`]!) + '×').join(' | ')} | ${f2(v[w].msBatch4!)} |`,
    ),
  );
  const p = r.problems;
  const threads = Object.keys(Object.values(r.blocks)[0] ?? {});
  const bc = (g: CascadeProblems) => CONFIGS.map((c) => f2(g.wallBC[c]) + '×').join(' | ');
  return `
## Before/after: cascade attention for sibling batches

${machineNote(r.machine, reference)}\`node --expose-gc dist/bench/cascade.js\` (${r.date.slice(0, 10)}, load average ${r.machine.loadAverageBefore[0]} → ${r.machine.loadAverageAfter[0]}): sibling rows on copies of
their prefix (the appending graph) against rows reading one stored copy (\`${r.graphs.after.split(' ')[0]}\`), in one process, interleaved.

| context | rows | one row ms | 1 row | 2 | 3 | 4 | 4 rows ms |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |
${steps.join('\n')}

Forming 4 rows on a ${r.forkAndDrop.prefix}-token prefix (with their header prefill): ${f2(r.forkAndDrop.forkMs.before)} ms on copies, ${f2(r.forkAndDrop.forkMs.after)} ms with the cascade; dropping one of them: ${f2(r.forkAndDrop.dropMs.before)} → ${f2(r.forkAndDrop.dropMs.after)} ms.

Whole blocks (rows formed, decoded until the last ends at 90 tokens, each dropped as it ends), ms on copies → with the cascade:

| prefix | ${threads.map((t) => `${t} threads`).join(' | ')} |
| ---: | ${threads.map(() => '---:').join(' | ')} |
${Object.entries(r.blocks)
  .map(
    ([ctx, b]) =>
      `| ${ctx} | ${Object.values(b)
        .map((v) => `${v.before.toFixed(1)} → ${v.after.toFixed(1)} (${f2(v.speedup)}×)`)
        .join(' | ')} |`,
  )
  .join('\n')}

B/C wall clock, C three ways (rows on copies; the default engine: cascade from a ${r.defaultCascadeMinPrefix}-token prefix; cascade for every sibling call):

| problems | n | copies | default | every sibling call |
| --- | ---: | ---: | ---: | ---: |
| all | ${p.all.problems} | ${bc(p.all)} |
| ≥3 threads | ${p.threePlusThreads.problems} | ${bc(p.threePlusThreads)} |

C's texts identical to the rows-on-copies run: default ${p.identicalToCopies.default}/${p.identicalToCopies.of}, cascade for every sibling call ${p.identicalToCopies.always}/${p.identicalToCopies.of}. Single stream (the same path in every engine, a control): ${r.singleStream.tokensPerSecond.before.toFixed(0)} and ${r.singleStream.tokensPerSecond.after.toFixed(0)} tokens/s.
`;
}
