/** The before/after results of folding the graphs' shape arithmetic (bench/static-shapes.ts) and their section of bench/RESULTS.md. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/internal/package-root.js';
import { machineNote, type RecordedMachine } from './machine.js';

export const STATIC_SHAPES_RESULT = path.join(packageRoot(), 'bench/results/static-shapes.json');

type Side = Record<string, number>;
interface Problems {
  problems: number;
  wallBC: { before: number; after: number };
  speedupAfterOverBefore: { B: number; C: number };
}

export interface StaticShapesResult {
  benchmark: 'static-shapes';
  date: string;
  machine: RecordedMachine & { loadAverageBefore: number[]; loadAverageAfter: number[] };
  stepCostRelativeToOne: Record<string, { before: Side; after: Side }>;
  singleStream: {
    tokensPerSecond: { before: number; after: number; generate: number };
    overGenerate: { before: number; after: number };
    afterOverBefore: number;
    afterBesideGenerate: number;
    rounds: number;
  };
  problems: { all: Problems; threePlusThreads: Problems; identicalTexts: { B: number; C: number; of: number } };
}

/** The section of bench/RESULTS.md for the folded shapes (empty until measured). */
export function staticShapesSection(reference: RecordedMachine): string {
  if (!existsSync(STATIC_SHAPES_RESULT)) return '';
  const r = JSON.parse(readFileSync(STATIC_SHAPES_RESULT, 'utf8')) as StaticShapesResult;
  const f2 = (x: number) => x.toFixed(2);
  const steps = Object.entries(r.stepCostRelativeToOne).flatMap(([ctx, v]) =>
    (['before', 'after'] as const).map(
      (w) =>
        `| ${ctx} ${w} | ${f2(v[w].msBatch1!)} | ${[2, 3, 4].map((b) => f2(v[w][`batch${b}`]!) + '×').join(' | ')} | ${f2(v[w].msBatch4!)} |`,
    ),
  );
  const s = r.singleStream;
  const p = r.problems;
  return `
## Before/after: the graphs' shape arithmetic folded into constants

${machineNote(r.machine, reference)}\`node --expose-gc dist/bench/static-shapes.js\` (${r.date.slice(0, 10)}, load average ${r.machine.loadAverageBefore[0]} → ${r.machine.loadAverageAfter[0]}): the appending and
cascade graphs without and with \`rewrite-static-shapes\` (the same bits), through the engine, in one process, interleaved.

| context, graph | batch 1 ms | 2 | 3 | 4 | batch 4 ms |
| --- | ---: | ---: | ---: | ---: | ---: |
${steps.join('\n')}

| | before | after | after ÷ before |
| --- | ---: | ---: | ---: |
| single stream, tokens/s | ${s.tokensPerSecond.before.toFixed(0)} | ${s.tokensPerSecond.after.toFixed(0)} | ${f2(s.afterOverBefore)}× |
| ÷ transformers.js \`generate()\` (${s.tokensPerSecond.generate.toFixed(0)} tokens/s) | ${f2(s.overGenerate.before)}× | ${f2(s.overGenerate.after)}× | |
| B/C wall, all ${p.all.problems} problems | ${f2(p.all.wallBC.before)}× | ${f2(p.all.wallBC.after)}× | B ${f2(p.all.speedupAfterOverBefore.B)}× faster, C ${f2(p.all.speedupAfterOverBefore.C)}× faster |
| B/C wall, ${p.threePlusThreads.problems} problems with ≥3 threads | ${f2(p.threePlusThreads.wallBC.before)}× | ${f2(p.threePlusThreads.wallBC.after)}× | B ${f2(p.threePlusThreads.speedupAfterOverBefore.B)}×, C ${f2(p.threePlusThreads.speedupAfterOverBefore.C)}× |

generate() was measured after the interleaved pair, in the same process (our loop beside it: ${s.afterBesideGenerate.toFixed(0)} tokens/s). Texts identical between the two: B ${p.identicalTexts.B}/${p.identicalTexts.of}, C ${p.identicalTexts.C}/${p.identicalTexts.of}.
`;
}
