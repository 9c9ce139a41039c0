/**
 * Synthetic arithmetic with latent parallel structure: the bundled model's training tasks
 * (a TypeScript port of the recipe's `tasks.py`). Texts and reference trajectories are
 * byte-identical to the recipe's for the same numbers; the random stream is our own
 * (`createRng` of src/random.ts), so a given seed does not give the recipe's problems.
 */
import { TAG } from '../src/format/tags.js';
import { createRng, type Rng } from '../src/internal/random.js';
import { ThreadweaverError } from '../src/errors.js';

export type ArithFamily = 'products' | 'single' | 'chain' | 'poly';

/** An independent sub-goal: one thread in the parallel rendering, one step in the sequential one. */
export interface ArithSubGoal {
  goal: string;
  lines: string[];
  value: number;
}

export interface ArithTask {
  family: ArithFamily;
  problem: string;
  answer: number;
  /** The first line of the reasoning. */
  setup: string;
  /** Independent sub-goals, or null when the task has nothing to parallelize. */
  subs: ArithSubGoal[] | null;
  /** Lines after the sub-goals (or all the lines when there are none). */
  combine: string[];
}

export type ArithOp = '+' | '-';

/** Scratchpad for a*b: split the smaller factor so every partial product is a table fact times a power of ten. */
function mulSteps(a: number, b: number): { lines: string[]; value: number } {
  const head = `${a}*${b} = `;
  const [x, y] = a >= b ? [a, b] : [b, a];
  if (y < 10 && x < 100) return { lines: [head + `${a * b}`], value: a * b };
  if (y < 10) {
    const h = Math.floor(x / 100);
    const r = x % 100;
    const hi = h * 100 * y;
    const lo = r * y;
    if (r === 0) return { lines: [head + `${hi}`], value: hi };
    return { lines: [head + `${h * 100}*${y} + ${r}*${y} = ${hi} + ${lo} = ${hi + lo}`], value: hi + lo };
  }
  const t = Math.floor(y / 10);
  const u = y % 10;
  const hi = x * t * 10;
  const lo = x * u;
  if (u === 0) return { lines: [head + `${x}*${t * 10} = ${hi}`], value: hi };
  return { lines: [head + `${x}*${t * 10} + ${x}*${u} = ${hi} + ${lo} = ${hi + lo}`], value: hi + lo };
}

/** Left-to-right combination, one binary step per line. */
function combineSteps(values: readonly number[], ops: readonly ArithOp[]): { lines: string[]; value: number } {
  let acc = values[0] ?? 0;
  const lines: string[] = [];
  ops.forEach((op, i) => {
    const v = values[i + 1]!;
    const nxt = op === '+' ? acc + v : acc - v;
    lines.push(`${acc} ${op} ${v} = ${nxt}`);
    acc = nxt;
  });
  return { lines, value: acc };
}

type PolyCoef = readonly [a: number, b: number, c: number];

function polyEvalSteps([a, b, c]: PolyCoef, x: number): { lines: string[]; value: number } {
  const sq = x * x;
  const ax2 = mulSteps(a, sq);
  const bx = mulSteps(b, x);
  const s1 = ax2.value + bx.value;
  const lines = [`x^2 = ${x}*${x} = ${sq}`, ...ax2.lines, ...bx.lines, `${ax2.value} + ${bx.value} = ${s1}`];
  const value = s1 + c;
  if (c) lines.push(`${s1} + ${c} = ${value}`);
  return { lines, value };
}

function polyText([a, b, c]: PolyCoef): string {
  return `${a}x^2 + ${b}x` + (c ? ` + ${c}` : '');
}

/** `Compute a*b + c*d - e*f.`: `ops` has one entry fewer than `pairs`. */
export function productsTask(pairs: ReadonlyArray<readonly [number, number]>, ops: readonly ArithOp[]): ArithTask {
  if (pairs.length < 2 || ops.length !== pairs.length - 1)
    throw new ThreadweaverError('products: need k >= 2 pairs and k-1 ops');
  const expr = pairs.map(([a, b], i) => (i === 0 ? '' : ` ${ops[i - 1]} `) + `${a}*${b}`).join('');
  const subs = pairs.map(([a, b]) => {
    const m = mulSteps(a, b);
    return { goal: `Compute ${a}*${b}.`, lines: m.lines, value: m.value };
  });
  const comb = combineSteps(
    subs.map((s) => s.value),
    ops,
  );
  return {
    family: 'products',
    problem: `Compute ${expr}.`,
    answer: comb.value,
    setup: `The expression has ${pairs.length} independent products; compute each, then combine.`,
    subs,
    combine: comb.lines,
  };
}

/** `Compute a*b.` */
export function singleTask(a: number, b: number): ArithTask {
  const m = mulSteps(a, b);
  return {
    family: 'single',
    problem: `Compute ${a}*${b}.`,
    answer: m.value,
    setup: 'There is a single product to compute.',
    subs: null,
    combine: m.lines,
  };
}

/** `Compute (a*b + c)*d.` */
export function chainTask(a: number, b: number, c: number, d: number): ArithTask {
  const m1 = mulSteps(a, b);
  const v2 = m1.value + c;
  const m3 = mulSteps(v2, d);
  return {
    family: 'chain',
    problem: `Compute (${a}*${b} + ${c})*${d}.`,
    answer: v2 * d,
    setup: 'Each step needs the previous result, so work in order.',
    subs: null,
    combine: [...m1.lines, `${m1.value} + ${c} = ${v2}`, ...m3.lines],
  };
}

/** `Let f(x) = ax^2 + bx + c. Compute f(x1) + f(x2) ...` */
export function polyTask(coef: PolyCoef, xs: readonly number[]): ArithTask {
  if (xs.length < 2) throw new ThreadweaverError('poly: need at least two evaluations');
  const subs = xs.map((x) => {
    const e = polyEvalSteps(coef, x);
    return { goal: `Compute f(${x}).`, lines: e.lines, value: e.value };
  });
  const comb = combineSteps(
    subs.map((s) => s.value),
    xs.slice(1).map(() => '+' as const),
  );
  return {
    family: 'poly',
    problem: `Let f(x) = ${polyText(coef)}. Compute ${xs.map((x) => `f(${x})`).join(' + ')}.`,
    answer: comb.value,
    setup: `The ${xs.length} evaluations of f are independent; compute each, then add.`,
    subs,
    combine: comb.lines,
  };
}

function sampleProducts(rng: Rng): ArithTask {
  const k = rng.choice([2, 2, 3, 3, 4]);
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < k; i++) pairs.push([rng.int(11, 99), rng.int(2, 99)]);
  const ops: ArithOp[] = pairs.slice(1).map(() => '+');
  if (rng.next() < 0.4) {
    // One subtraction at the end, only when the result stays non-negative.
    pairs.sort((p, q) => q[0] * q[1] - p[0] * p[1]);
    const last = pairs[k - 1]!;
    const rest = pairs.slice(0, -1).reduce((s, [a, b]) => s + a * b, 0);
    if (last[0] * last[1] <= rest) ops[k - 2] = '-';
  }
  return productsTask(pairs, ops);
}

function samplePoly(rng: Rng): ArithTask {
  const coef = [rng.int(2, 9), rng.int(2, 9), rng.int(0, 20)] as const;
  const k = rng.choice([2, 2, 3]);
  const xs = rng.sample(
    Array.from({ length: 11 }, (_, i) => i + 2),
    k,
  );
  return polyTask(coef, xs);
}

/** One task from the training mix: products 55%, single 15%, chain 10%, poly 20%. */
export function sampleArith(rng: Rng): ArithTask {
  const r = rng.next();
  if (r < 0.55) return sampleProducts(rng);
  if (r < 0.7) return singleTask(rng.int(11, 99), rng.int(2, 99));
  if (r < 0.8) return chainTask(rng.int(11, 40), rng.int(2, 9), rng.int(1, 99), rng.int(2, 9));
  return samplePoly(rng);
}

/** `count` tasks from one seeded stream: the same (count, seed) always gives the same list. */
export function generateArith(count: number, seed: number): ArithTask[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => sampleArith(rng));
}

const SINGLE_RE = /^Compute (\d+)\*(\d+)\.$/;
const CHAIN_RE = /^Compute \((\d+)\*(\d+) \+ (\d+)\)\*(\d+)\.$/;
const PRODUCTS_RE = /^Compute (\d+\*\d+(?: [+-] \d+\*\d+)+)\.$/;
const POLY_RE = /^Let f\(x\) = (\d+)x\^2 \+ (\d+)x(?: \+ (\d+))?\. Compute (f\(\d+\)(?: \+ f\(\d+\))+)\.$/;

/** Rebuild the task from its problem text (any of the four families), or null when the text is not one. */
export function parseArithProblem(text: string): ArithTask | null {
  const t = text.trim();
  let m: RegExpMatchArray | null;
  const n = (s: string | undefined): number => Number(s ?? 0);
  if ((m = t.match(SINGLE_RE))) return singleTask(n(m[1]), n(m[2]));
  if ((m = t.match(CHAIN_RE))) return chainTask(n(m[1]), n(m[2]), n(m[3]), n(m[4]));
  if ((m = t.match(PRODUCTS_RE))) {
    const parts = m[1]!.split(' ');
    const pairs: Array<[number, number]> = [];
    const ops: ArithOp[] = [];
    parts.forEach((p, i) => {
      if (i % 2 === 1) ops.push(p as ArithOp);
      else {
        const [a, b] = p.split('*');
        pairs.push([n(a), n(b)]);
      }
    });
    return productsTask(pairs, ops);
  }
  if ((m = t.match(POLY_RE))) {
    const xs = [...m[4]!.matchAll(/f\((\d+)\)/g)].map((x) => n(x[1]));
    return polyTask([n(m[1]), n(m[2]), n(m[3])], xs);
  }
  return null;
}

export type ArithRendering = 'parallel' | 'sequential';

/**
 * The reference assistant turn after `<think>\n`. The parallel rendering uses one fork/join
 * block when the task has independent sub-goals; the sequential one writes every step in one chain.
 */
export function renderArith(task: ArithTask, mode: ArithRendering): string {
  const out = [task.setup];
  const { subs } = task;
  if (subs && mode === 'parallel') {
    out.push(TAG.parallelOpen, TAG.outlinesOpen);
    subs.forEach((s, i) => out.push(`${TAG.outlineOpen}${i + 1}: ${s.goal}${TAG.outlineClose}`));
    out.push(TAG.outlinesClose);
    out.push(
      subs
        .map(
          (s, i) =>
            `${TAG.threadOpen}\n${i + 1}: ${s.lines.join('; ')}. So the result is ${s.value}.\n${TAG.threadClose}`,
        )
        .join(''),
    );
    out.push(TAG.parallelClose);
    out.push(`Combine the results ${subs.map((s) => s.value).join(', ')}: ${task.combine.join('; ')}.`);
  } else if (subs) {
    subs.forEach((s, i) => out.push(`Step ${i + 1}: ${s.lines.join('; ')}. So the result is ${s.value}.`));
    out.push(`Combine: ${task.combine.join('; ')}.`);
  } else {
    out.push(`${task.combine.join('; ')}.`);
  }
  out.push(TAG.thinkClose, `The answer is \\boxed{${task.answer}}.`);
  return out.join('\n');
}
