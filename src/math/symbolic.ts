/**
 * Scalar equivalence through @cortex-js/compute-engine: structural identity, exact evaluation,
 * and numeric sampling of free variables. Each comparison runs in its own engine scope, because
 * parsing can declare symbols (`x_1` makes `x` a collection) that would leak into later parses.
 */
import { ComputeEngine } from '@cortex-js/compute-engine';
import type { Complex } from './complex.js';
import type { Deadline } from './deadline.js';
import { hasDecimal } from './number.js';
import { compareSampled, proportionalSampled, type Evaluator, type Outcome, type Thresholds } from './sampling.js';
import { MAX_VARIABLES, type CompareContext, type Verdict } from './types.js';

/*
 * The slice of the compute-engine 0.27 API used here, transcribed from its .d.ts files. Those files
 * use extensionless relative imports, which NodeNext resolution cannot follow, so the package's own
 * types arrive as `any`; these interfaces restore checking at the boundary.
 */
interface BoxedExpression {
  readonly isValid: boolean;
  readonly unknowns: ReadonlyArray<string>;
  /** MathJSON of the (canonical) expression. */
  readonly json: MathJson;
  readonly re: number;
  readonly im: number;
  isSame(rhs: BoxedExpression): boolean;
  isEqual(other: number | BoxedExpression): boolean | undefined;
  subs(sub: Record<string, number>): BoxedExpression;
  N(): BoxedExpression;
}
/** MathJSON: numbers, symbol names and `[operator, ...args]` arrays. */
type MathJson = number | string | readonly MathJson[] | { readonly [key: string]: unknown };
interface LatexParser {
  parseGroup(): MathJson | null;
  parseToken(): MathJson | null;
}
interface ExpressionEntry {
  latexTrigger: string;
  kind: 'expression';
  parse: (parser: LatexParser) => MathJson | null;
}
interface Engine {
  latexDictionary: ReadonlyArray<unknown>;
  parse(latex: string): BoxedExpression;
  /** `timeLimit` is in seconds; 0.27 only consults it while evaluating factorials. */
  pushScope(scope?: { timeLimit?: number }): unknown;
  popScope(): unknown;
}

/** Relative tolerance between two exact expressions evaluated in floating point. */
const EXACT_TOL = 1e-9;

let shared: Engine | undefined;

/** The process-wide engine, built on first use (construction costs tens of milliseconds). */
function engine(): Engine {
  if (shared) return shared;
  const ce = new (ComputeEngine as new () => Engine)();
  // The 0.27 LaTeX dictionary has `Choose` but no `\binom`.
  const binom: ExpressionEntry = {
    latexTrigger: '\\binom',
    kind: 'expression',
    parse: (parser) => {
      const n = parser.parseGroup() ?? parser.parseToken();
      const k = parser.parseGroup() ?? parser.parseToken();
      return n === null || k === null ? null : ['Choose', n, k];
    },
  };
  ce.latexDictionary = [...ce.latexDictionary, binom];
  shared = ce;
  return ce;
}

/**
 * Why an input is too risky to hand to the engine, or null when it is fine. Engine calls cannot be
 * interrupted, so anything that can make one call slow is refused here: very long inputs, large
 * factorials (`100000!` takes seconds) and sums/products with large bounds.
 */
export function riskyInput(latex: string, maxLength: number): string | null {
  if (latex.length > maxLength) return `longer than ${maxLength} characters`;
  // Times and ratios (`12:00`, `7:32`) are compared as strings; the engine only errors on them, slowly.
  if (latex.includes(':')) return 'contains ":" (compared as text only)';
  // Malformed LaTeX: the engine logs internal errors and can take long to recover.
  if (!balanced(latex)) return 'unbalanced brackets';
  for (const m of latex.matchAll(/(\d+)\s*[})]?\s*!/g)) {
    if (Number(m[1]) > 1000) return 'factorial of a large number';
  }
  for (const m of latex.matchAll(/\\(?:sum|prod)\s*(?:_\s*(?:\{[^{}]*\}|\S))?\s*\^\s*(\{[^{}]*\}|\S)/g)) {
    if (/\d{4,}|\^/.test(m[1]!)) return 'iterated sum or product with a large bound';
  }
  return null;
}

/** Braces nest; round and square brackets pair up in number (`[0,1)` is fine); environments close. */
function balanced(latex: string): boolean {
  let braces = 0;
  let brackets = 0;
  for (let i = 0; i < latex.length; i++) {
    const c = latex[i];
    if (c === '\\') i++;
    else if (c === '{') braces++;
    else if (c === '}' && --braces < 0) return false;
    else if (c === '(' || c === '[') brackets++;
    else if ((c === ')' || c === ']') && --brackets < 0) return false;
  }
  const envs = (re: RegExp) => latex.match(re)?.length ?? 0;
  return braces === 0 && brackets === 0 && envs(/\\begin\{/g) === envs(/\\end\{/g);
}

/** Sampling thresholds for the engine tier: it is the last word, so nothing stays undecided. */
function thresholds(a: string, b: string, relTol: number): Thresholds {
  const tol = hasDecimal(a) || hasDecimal(b) ? relTol : EXACT_TOL;
  return { equalTol: tol, differTol: tol, maxMagnitude: Infinity };
}

/** Are two scalar LaTeX expressions mathematically equal, according to compute-engine? */
export function symbolicEqual(a: string, b: string, ctx: CompareContext): Verdict {
  const risk = riskyInput(a, ctx.maxLength) ?? riskyInput(b, ctx.maxLength);
  if (risk) return { equal: false, reason: `refused: ${risk}` };
  return inScope(ctx.deadline, () => {
    const A = parse(a);
    const B = parse(b);
    if (!A || !B) return { equal: false, reason: `unparseable: ${!A ? a : b}` };
    if (A.isSame(B)) return { equal: true, reason: 'symbolic: identical' };
    ctx.deadline.check();
    const vars = unknowns(A, B);
    if (vars.length > MAX_VARIABLES) return { equal: false, reason: `refused: more than ${MAX_VARIABLES} variables` };
    const t = thresholds(a, b, ctx.relTol);
    if (vars.length === 0 && t.equalTol === EXACT_TOL) {
      // Exact evaluation tells 2^{100} from 2^{100}+1, which doubles cannot.
      const exact = A.isEqual(B);
      if (exact !== undefined) return { equal: exact, reason: `symbolic: ${exact ? 'equal' : 'not equal'}` };
      ctx.deadline.check();
    }
    return verdict('symbolic', compareSampled(evaluator(A), evaluator(B), vars, t, ctx.deadline));
  });
}

/**
 * Is `aL - aR` a constant multiple of `bL - bR`, according to compute-engine? The test for two
 * equations (any non-zero factor) or two inequalities of the same direction (a positive factor).
 */
export function symbolicProportional(
  [aL, aR]: readonly [string, string],
  [bL, bR]: readonly [string, string],
  positive: boolean,
  ctx: CompareContext,
): Verdict {
  const a = `(${aL})-(${aR})`;
  const b = `(${bL})-(${bR})`;
  const risk = riskyInput(a, ctx.maxLength) ?? riskyInput(b, ctx.maxLength);
  if (risk) return { equal: false, reason: `refused: ${risk}` };
  return inScope(ctx.deadline, () => {
    const A = parse(a);
    const B = parse(b);
    if (!A || !B) return { equal: false, reason: 'unparseable relation' };
    const vars = unknowns(A, B);
    if (vars.length > MAX_VARIABLES) return { equal: false, reason: `refused: more than ${MAX_VARIABLES} variables` };
    return verdict(
      'relation',
      proportionalSampled(evaluator(A), evaluator(B), vars, positive, thresholds(a, b, ctx.relTol), ctx.deadline),
    );
  });
}

/** An undecided outcome is final here: the engine tier is the last one. */
function verdict(tier: string, o: Outcome): Verdict {
  return { equal: o.decided && o.equal, reason: `${tier}: ${o.detail}` };
}

/**
 * Run engine work in a fresh scope (declarations made while parsing are dropped afterwards) whose
 * own time limit is the item's remaining budget.
 */
function inScope<T>(deadline: Deadline, fn: () => T): T {
  deadline.check();
  const ce = engine();
  ce.pushScope({ timeLimit: deadline.remainingMs() / 1000 });
  try {
    return fn();
  } finally {
    ce.popScope();
  }
}

function parse(latex: string): BoxedExpression | null {
  const expr = engine().parse(latex);
  return expr.isValid ? expr : null;
}

/** Free variables of both sides. 0.27 also lists the index of `\\sum_{k=1}^{10}`, so those go. */
function unknowns(A: BoxedExpression, B: BoxedExpression): string[] {
  const bound = new Set<string>();
  collectBound(A.json, bound);
  collectBound(B.json, bound);
  return [...new Set([...A.unknowns, ...B.unknowns])].filter((v) => !bound.has(v)).sort();
}

const BINDERS = new Set(['Sum', 'Product', 'Integrate', 'Limit']);

function collectBound(json: MathJson, out: Set<string>): void {
  if (!Array.isArray(json)) return;
  const [head, ...args] = json as readonly MathJson[];
  if (typeof head === 'string' && BINDERS.has(head)) {
    for (const arg of args.slice(1)) {
      if (typeof arg === 'string') out.add(arg);
      else if (Array.isArray(arg) && typeof arg[1] === 'string') out.add(arg[1]);
    }
  }
  for (const arg of args) collectBound(arg, out);
}

function evaluator(expr: BoxedExpression): Evaluator {
  return (point) => {
    const n = (Object.keys(point).length ? expr.subs(point) : expr).N();
    const v: Complex = { re: n.re, im: n.im };
    return Number.isNaN(v.re) || Number.isNaN(v.im) ? null : v;
  };
}
