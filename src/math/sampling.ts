/**
 * Equivalence by evaluation at sample points, shared by the fast numeric tier (our own LaTeX
 * evaluator) and the compute-engine tier. An evaluator maps variable values to a complex number,
 * or null where the expression is undefined.
 */
import { abs, close, type Complex } from './complex.js';
import type { Deadline } from './deadline.js';

export type Evaluator = (point: Readonly<Record<string, number>>) => Complex | null;

/** Free-variable values: positive non-integers keep logs and roots real and miss integer poles. */
const SAMPLES = [0.4142, 1.3178, 2.2361, 0.7071, 1.7321, 0.5772, 2.7183, 1.1447, 0.9011, 1.618, 0.3333, 1.9319];
const POINTS = 4;
const MIN_VALID = 2;

export interface Thresholds {
  /** Values this close (relative) agree. */
  equalTol: number;
  /** Values further apart than this (relative) disagree; in between the tier cannot decide. */
  differTol: number;
  /** Values larger than this are too imprecise in doubles to decide on. */
  maxMagnitude: number;
}

export type Outcome = { decided: true; equal: boolean; detail: string } | { decided: false; detail: string };

function samplePoint(vars: readonly string[], k: number): Record<string, number> {
  const point: Record<string, number> = {};
  vars.forEach((v, j) => {
    point[v] = SAMPLES[(k * 5 + j * 7) % SAMPLES.length]!;
  });
  return point;
}

/** Do `f` and `g` agree at the sample points? Constant expressions need only one point. */
export function compareSampled(
  f: Evaluator,
  g: Evaluator,
  vars: readonly string[],
  t: Thresholds,
  deadline: Deadline,
): Outcome {
  const needed = vars.length === 0 ? 1 : POINTS;
  let valid = 0;
  for (let k = 0; k < needed * 2 && valid < needed; k++) {
    deadline.check();
    const point = samplePoint(vars, k);
    const x = f(point);
    const y = g(point);
    if (!x && !y) continue; // undefined on both sides here (a pole): try another point
    // One side undefined (e.g. arcsin outside [-1,1]) may be an evaluator limit, not a difference.
    if (!x || !y) return { decided: false, detail: `only one side is defined at ${describe(point)}` };
    if (abs(x) > t.maxMagnitude || abs(y) > t.maxMagnitude)
      return { decided: false, detail: 'values too large for doubles' };
    if (close(x, y, t.equalTol)) {
      valid++;
      continue;
    }
    if (!close(x, y, t.differTol)) return { decided: true, equal: false, detail: `differ at ${describe(point)}` };
    return { decided: false, detail: 'values nearly agree' };
  }
  if (valid < Math.min(needed, MIN_VALID)) return { decided: false, detail: 'could not evaluate' };
  return { decided: true, equal: true, detail: vars.length ? `equal at ${valid} points` : 'equal values' };
}

/**
 * Is `f` a constant multiple of `g` (positive when `positive`)? The test for equations (`f = lhs -
 * rhs`) and same-direction inequalities.
 */
export function proportionalSampled(
  f: Evaluator,
  g: Evaluator,
  vars: readonly string[],
  positive: boolean,
  t: Thresholds,
  deadline: Deadline,
): Outcome {
  if (vars.length === 0) return { decided: false, detail: 'no variables' };
  let ratio: number | undefined;
  let valid = 0;
  for (let k = 0; k < POINTS * 2 && valid < POINTS; k++) {
    deadline.check();
    const point = samplePoint(vars, k);
    const x = f(point);
    const y = g(point);
    if (!x || !y || Math.abs(x.im) > 1e-12 || Math.abs(y.im) > 1e-12) continue;
    if (Math.abs(x.re) > t.maxMagnitude || Math.abs(y.re) > t.maxMagnitude)
      return { decided: false, detail: 'values too large for doubles' };
    if (Math.abs(y.re) < 1e-12 || Math.abs(x.re) < 1e-12) {
      if (Math.abs(y.re) < 1e-12 && Math.abs(x.re) < 1e-12) continue;
      return { decided: true, equal: false, detail: `only one side vanishes at ${describe(point)}` };
    }
    const r = x.re / y.re;
    valid++;
    if (ratio === undefined) ratio = r;
    else if (!close({ re: r, im: 0 }, { re: ratio, im: 0 }, t.equalTol)) {
      if (!close({ re: r, im: 0 }, { re: ratio, im: 0 }, t.differTol))
        return { decided: true, equal: false, detail: 'not proportional' };
      return { decided: false, detail: 'ratios nearly agree' };
    }
  }
  if (ratio === undefined || valid < MIN_VALID) return { decided: false, detail: 'could not evaluate' };
  if (positive && ratio < 0) return { decided: true, equal: false, detail: 'opposite direction' };
  return { decided: true, equal: true, detail: `proportional (factor ${+ratio.toPrecision(6)})` };
}

function describe(point: Record<string, number>): string {
  if (Object.keys(point).length === 0) return 'the constant values';
  return Object.entries(point)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}
