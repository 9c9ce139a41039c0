import { runEval } from '../../eval/runner.js';
import { gradeAnswer } from '../../src/math/grade.js';
import { solve } from '../../src/solve/solve.js';
import { EOS, rules, ScriptedEngine, type ScriptedEngineOptions } from './scripted-engine.js';

// A run the web pages' tests can count on: one block of four threads (the third one long, so it
// overflows its lane), written by a scripted engine, so every machine sees the same four threads.

export const FOUR_PROBLEM = 'Compute 37*24 + 18*53 - 29*11 + 12*13.';
export const FOUR_ANSWER = '1679';

const PRODUCTS: [string, string][] = [
  ['37*24', '888'],
  ['18*53', '954'],
  ['29*11', '319'],
  ['12*13', '156'],
];

const thread = (i: number): string => {
  const [expr, value] = PRODUCTS[i]!;
  const [a, b] = expr.split('*');
  // Thread 3 checks its product digit by digit: many lines, longer than its lane is tall.
  const check =
    i === 2
      ? Array.from({ length: 40 }, (_, k) => `\nCheck ${k + 1}: ${a}*${b} = ${value}, still ${value}.`).join('')
      : '';
  return ` ${a} times ${b}: ${a}*${Number(b) - 1} + ${a} = ${value}.${check}\nSo ${expr} = ${value}.\n</Thread>`;
};

const OUTLINES =
  '<think>\nFour products, each on its own; then add and subtract.\n<Parallel>\n<Outlines>\n' +
  PRODUCTS.map(([expr], i) => `<Outline>${i + 1}: Compute ${expr}.</Outline>\n`).join('') +
  '</Outlines>';

const SEQUENTIAL =
  '<think>\n' +
  PRODUCTS.map(([expr, value]) => `${expr} = ${value}.\n`).join('') +
  `888 + 954 - 319 + 156 = ${FOUR_ANSWER}.\n</think>\nThe answer is \\boxed{${FOUR_ANSWER}}.${EOS}`;

/** What the scripted model writes: the four-thread block in parallel mode, one line of reasoning in sequential mode. */
export const fourThreadScript = rules(
  ...PRODUCTS.map((_, i): [RegExp, string] => [new RegExp(`<Thread>\\n${i + 1}:$`), thread(i)]),
  [
    /<\/Thread>\n$/,
    `</Parallel>\n888 + 954 - 319 + 156 = ${FOUR_ANSWER}.\n</think>\nThe answer is \\boxed{${FOUR_ANSWER}}.${EOS}`,
  ],
  // The sequential mode's system message (prompts/sequential-system.txt).
  [/without parallel threads/, SEQUENTIAL],
  [/assistant\n$/, OUTLINES],
);

/** An engine that writes the four-thread run (options: per-token delay, a failing call, a short context). */
export function fourThreadEngine(options: ScriptedEngineOptions = {}): ScriptedEngine {
  return new ScriptedEngine(fourThreadScript, options);
}

/** An eval run folder (the real eval runner and row store) of the four-thread problem in both modes. */
export async function makeFourThreadRun(out: string): Promise<{ dir: string; engine: ScriptedEngine }> {
  const engine = fourThreadEngine();
  await runEval({
    datasets: [{ name: 'arith', problems: [{ id: 'four-0', problem: FOUR_PROBLEM, answer: FOUR_ANSWER }] }],
    k: 1,
    modes: ['parallel', 'sequential'],
    concurrency: 1,
    temperature: 0,
    topP: 1,
    seedBase: 0,
    out,
    solve: async (problem, o) => {
      const r = await solve(problem, { engine, mode: o.mode, seed: o.seed, extract: o.extract, signal: o.signal });
      return { answer: r.answer, text: r.text, formatValid: r.formatValid, metrics: r.metrics };
    },
    grade: (pred, gold) => gradeAnswer(pred, gold),
    progress: false,
  });
  return { dir: out, engine };
}
