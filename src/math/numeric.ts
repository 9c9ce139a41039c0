/**
 * The fast numeric tier: our own LaTeX reader evaluates both sides at sample points in
 * microseconds. It only answers when the evidence is clear (values agree to 1e-10, or differ by
 * more than 1e-6, in a range where doubles are trustworthy); otherwise compute-engine decides.
 */
import { evaluate, exactValue, parseLatex, variables, type Expr } from './latex-eval.js';
import { hasDecimal, numbersClose, numbersEqual } from './number.js';
import { compareSampled, proportionalSampled, type Evaluator, type Outcome, type Thresholds } from './sampling.js';
import { MAX_VARIABLES, type CompareContext, type Verdict } from './types.js';

/** Doubles carry ~16 digits; beyond this magnitude exact answers need exact arithmetic. */
const MAX_MAGNITUDE = 1e15;

/** Equal / not equal when the fast tier is sure, null when the engine must decide. */
export function numericEqual(a: string, b: string, ctx: CompareContext): Verdict | null {
  const parsed = parseBoth(a, b);
  if (!parsed) return null;
  const [A, B, vars] = parsed;
  if (vars.length === 0) {
    const exact = exactEqual(A, B, hasDecimal(a) || hasDecimal(b), ctx.relTol);
    if (exact) return exact;
  }
  return decided(compareSampled(evaluator(A), evaluator(B), vars, thresholds(a, b, ctx.relTol), ctx.deadline));
}

/** Rational constants compare exactly (or by tolerance when written as decimals). */
function exactEqual(A: Expr, B: Expr, approximate: boolean, relTol: number): Verdict | null {
  const x = exactValue(A);
  const y = x && exactValue(B);
  if (!x || !y) return null;
  if (numbersEqual(x, y)) return { equal: true, reason: 'exact: equal' };
  if (!approximate) return { equal: false, reason: 'exact: not equal' };
  const equal = numbersClose(x, y, relTol);
  return { equal, reason: `exact: ${equal ? 'within' : 'outside'} relative ${relTol}` };
}

/** Is `aL - aR` a constant multiple of `bL - bR` (positive when `positive`)? Null when unsure. */
export function numericProportional(
  [aL, aR]: readonly [string, string],
  [bL, bR]: readonly [string, string],
  positive: boolean,
  ctx: CompareContext,
): Verdict | null {
  const a = `(${aL})-(${aR})`;
  const b = `(${bL})-(${bR})`;
  const parsed = parseBoth(a, b);
  if (!parsed) return null;
  const [A, B, vars] = parsed;
  return decided(
    proportionalSampled(evaluator(A), evaluator(B), vars, positive, thresholds(a, b, ctx.relTol), ctx.deadline),
  );
}

function parseBoth(a: string, b: string): [Expr, Expr, string[]] | null {
  const A = parseLatex(a);
  const B = A && parseLatex(b);
  if (!A || !B) return null;
  const vars = [...new Set([...variables(A), ...variables(B)])].sort();
  return vars.length > MAX_VARIABLES ? null : [A, B, vars];
}

function thresholds(a: string, b: string, relTol: number): Thresholds {
  // A decimal on either side is a measurement: the tolerance decides, there is no grey zone.
  if (hasDecimal(a) || hasDecimal(b)) return { equalTol: relTol, differTol: relTol, maxMagnitude: 1e300 };
  return { equalTol: 1e-10, differTol: 1e-6, maxMagnitude: MAX_MAGNITUDE };
}

function evaluator(expr: Expr): Evaluator {
  return (point) => {
    const v = evaluate(expr, point);
    return Number.isNaN(v.re) || Number.isNaN(v.im) ? null : v;
  };
}

function decided(o: Outcome): Verdict | null {
  return o.decided ? { equal: o.equal, reason: `numeric: ${o.detail}` } : null;
}
