/**
 * Grader throughput: grades the shared equivalence cases (when /work/shared is present), the
 * public grader cases of test/fixtures (with lenient extraction: many are whole responses) and the
 * cases below, once cold and then for several steady-state passes, and writes
 * bench/results/grader.json. Nothing is cached between gradings, so every pass does the full work.
 *
 *   npx tsc -p . && node dist/bench/grader.js [--passes N]
 */
import { existsSync } from 'node:fs';
import { jsonText, writeFileAtomic } from '../src/internal/files.js';
import { machineInfo } from './machine.js';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readGradingCases } from '../src/math/cases.js';
import type { ExtractPolicy } from '../src/math/extract.js';
import { gradeAnswer } from '../src/math/grade.js';

interface BenchCase {
  pred: string | null;
  gold: string;
  equal: boolean;
  extract?: ExtractPolicy;
}

/** Our own cases: one or more per policy, plus the expensive shapes (relations, symbolic, guards). */
const OWN_ROWS: Array<[string | null, string, boolean]> = [
  ['50\\%', '50', true],
  ['50\\%', '0.5', false],
  ['0.333333', '\\frac13', true],
  ['0.3333', '\\frac13', false],
  ['3.14159265', '\\pi', true],
  ['3.1416', '\\pi', false],
  ['\\frac{2}{4}', '\\frac12', true],
  ['007', '7', true],
  ['7,425,000', '7425000', true],
  ['32, 349', '32349', false],
  ['3, -1', '-1, 3', true],
  ['2, 2, 3', '2, 3', false],
  ['(3, -1)', '(-1, 3)', false],
  ['(1, 2]', '(1, 2)', false],
  ['\\{3,1,2\\}', '\\{1,2,3\\}', true],
  ['\\{1,3\\}', '(3,1)', false],
  ['(3,4)\\cup(1,2)', '(1,2)\\cup(3,4)', true],
  ['\\frac{\\pi}{2}', '90^\\circ', false],
  ['30^{\\circ}', '30', true],
  ['5 \\text{ cm}^2', '5', true],
  ['64 square feet', '64', true],
  ['x = 3', '3', true],
  ['1', '2x + z = 1', false],
  ['x^2-1=0', '(x-1)(x+1)=0', true],
  ['-2x \\ge -4', 'x \\le 2', true],
  ['x < 5', 'x > 5', false],
  ['(5,\\infty)', 'x>5', true],
  ['x>5', '(5,\\infty)', false],
  ['2\\frac{1}{3}', '\\frac{7}{3}', true],
  ['\\text{odd}', '\\text{Odd}', true],
  ['A', 'a', false],
  ['1 \\text{ and } 2', '2, 1', true],
  ['-3 or 3', '\\pm3', true],
  ['1.0e6', '10^6', true],
  ['\\frac{x^2-1}{x-1}', 'x+1', true],
  ['\\sin^2 x + \\cos^2 x', '1', true],
  ['\\log_2 8', '3', true],
  ['\\sqrt{-4}', '2i', true],
  ['e^{i\\pi}', '-1', true],
  ['\\sum_{k=1}^{10} k', '55', true],
  ['\\binom{10}{3}', '120', true],
  ['2^{100}', '2^{100}+1', false],
  ['\\tan^{-1}(1)', '\\frac{\\pi}{4}', true],
  ['\\operatorname{gcd}(12,18)', '6', true],
  ['\\sum_{k=1}^{1000000} k', '500000500000', false],
  ['100000!', '1', false],
  ['10^{10^{10^{10}}}', '1', false],
  ['\\begin{bmatrix}1 & \\frac12 \\\\ 3 & 4\\end{bmatrix}', '\\begin{pmatrix}1 & 0.5 \\\\ 3 & 4\\end{pmatrix}', true],
  ['<think>\\boxed{3}?</think> So \\boxed{5}.', '5', true],
  ['<think>so \\boxed{5}', '5', false],
  [null, '5', false],
  // Labels, approximations, computations, subscripts, odd roots, units with negative powers.
  ['\\overline{CD}=12', '12', true],
  ['f^{-1}(x)=\\frac{x+3}{4}', '\\frac{x+3}{4}', true],
  ['AB=5, BC=9', '5, 9', true],
  ['AB = 8', '9', false],
  ['\\frac{40}{3} \\approx 13.33', '\\frac{40}{3}', true],
  ['8 \\times 9 = 72', '72', true],
  ['x = 5+5+1 = 7 = 11', 'x = 11', true],
  ['b_k + b_{k-1}', 'b_{k-1} + b_k', true],
  ['(x-4)^{1/3}', '\\sqrt[3]{x-4}', true],
  ['(2-x)^{1/3}', '\\sqrt[3]{x-2}', false],
  ['3.2\\times10^{-4}\\,\\text{m}^{-1}', '3.2\\times 10^{-4}', true],
];
const OWN: BenchCase[] = OWN_ROWS.map(([pred, gold, equal]) => ({ pred, gold, equal }));

const root = path.resolve(
  import.meta.dirname,
  '..',
  existsSync(path.resolve(import.meta.dirname, '..', 'package.json')) ? '' : '..',
);
const sharedCases = path.resolve(root, '../shared/grading/equivalence-cases.jsonl');
const publicCases = path.resolve(root, 'test/fixtures/public-grader-cases.jsonl');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { passes: { type: 'string', default: '20' } } });
  const passes = Math.max(1, Number(values.passes) || 20);
  const shared: BenchCase[] = existsSync(sharedCases) ? await readGradingCases(sharedCases) : [];
  if (!shared.length) console.warn(`bench/grader: ${sharedCases} not found; timing our own cases only`);
  // The public cases' own verdicts include documented policy differences; agreement is reported as is.
  const pub: BenchCase[] = (await readGradingCases(publicCases)).map((c) => ({ ...c, extract: 'lenient' }));
  const all = [...shared, ...pub, ...OWN];
  const gradeCase = (c: BenchCase) => gradeAnswer(c.pred, c.gold, c.extract ? { extract: c.extract } : {});

  // Cold pass: includes building the compute engine and first-use JIT.
  const coldStart = performance.now();
  const verdicts = all.map(gradeCase);
  const coldMs = performance.now() - coldStart;

  const perCase: number[] = [];
  const setMs = { shared: 0, public: 0, own: 0 };
  const setOf = (i: number): keyof typeof setMs =>
    i < shared.length ? 'shared' : i < shared.length + pub.length ? 'public' : 'own';
  const start = performance.now();
  for (let p = 0; p < passes; p++) {
    all.forEach((c, i) => {
      const t = performance.now();
      gradeCase(c);
      const ms = performance.now() - t;
      perCase.push(ms);
      setMs[setOf(i)] += ms;
    });
  }
  const steadyMs = performance.now() - start;
  const casesPerSecond = Math.round((passes * all.length) / (steadyMs / 1000));
  const rate = (n: number, ms: number) => (n ? Math.round((passes * n) / (ms / 1000)) : null);

  const agree = (cases: BenchCase[], offset: number) =>
    cases.filter((c, i) => verdicts[offset + i]!.equal === c.equal).length;
  const tiers: Record<string, number> = {};
  for (const v of verdicts) {
    const tier = v.reason.split(':')[0]!;
    tiers[tier] = (tiers[tier] ?? 0) + 1;
  }
  perCase.sort((a, b) => a - b);
  const pct = (q: number) => +perCase[Math.min(perCase.length - 1, Math.floor(q * perCase.length))]!.toFixed(3);

  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    cases: { shared: shared.length, public: pub.length, own: OWN.length, total: all.length },
    passes,
    casesPerSecond,
    casesPerSecondBySet: {
      shared: rate(shared.length, setMs.shared),
      public: rate(pub.length, setMs.public),
      own: rate(OWN.length, setMs.own),
    },
    coldFirstPassMs: +coldMs.toFixed(1),
    perCaseMs: { p50: pct(0.5), p90: pct(0.9), p95: pct(0.95), p99: pct(0.99), max: +perCase.at(-1)!.toFixed(3) },
    agreement: {
      shared: agree(shared, 0),
      public: agree(pub, shared.length),
      own: agree(OWN, shared.length + pub.length),
    },
    verdictsByTier: tiers,
  };
  const outDir = path.join(root, 'bench/results');
  await writeFileAtomic(path.join(outDir, 'grader.json'), jsonText(result));
  console.log(
    `grader: ${casesPerSecond} cases/s steady (${passes} passes x ${all.length} cases), cold first pass ${result.coldFirstPassMs} ms, ` +
      `p99 ${result.perCaseMs.p99} ms; agreement shared ${result.agreement.shared}/${shared.length}, ` +
      `public ${result.agreement.public}/${pub.length} (policy rows included), own ${result.agreement.own}/${OWN.length}`,
  );
}

await main();
