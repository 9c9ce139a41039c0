/**
 * Answer grading: normalize both sides, split them into structure, and compare structure first
 * and scalars last (string, text, the fast numeric tier, then compute-engine). The comparison is
 * guided by the gold answer, so it is deliberately not symmetric (see docs/grading.md).
 */
import { Deadline, GradeTimeout } from './deadline.js';
import { answerOf, type ExtractPolicy } from './extract.js';
import { normalizeAnswer } from './normalize.js';
import { evaluate, parseLatex } from './latex-eval.js';
import { hasDecimal } from './number.js';
import { numericEqual, numericProportional } from './numeric.js';
import {
  labelKey,
  parseStructure,
  statement,
  type AnswerNode,
  type Relation,
  type RelationOp,
  type Statement,
} from './structure.js';
import { symbolicEqual, symbolicProportional } from './symbolic.js';
import type { CompareContext, Verdict } from './types.js';

/**
 * Settings of gradeAnswer: the time budget per item, the numeric tolerance, the symbolic engine's
 * size limit and the extraction policy.
 */
export interface GradeOptions {
  /** Time budget per item in milliseconds; running out counts as not equal. Default 1000. */
  timeLimitMs?: number;
  /** Relative tolerance when either side is a decimal. Default 1e-6. */
  relTol?: number;
  /** Longest scalar (in characters) handed to the symbolic engine. Default 500. */
  maxLength?: number;
  /** How a whole response's final answer is found (see extractAnswer). Default 'boxed'. */
  extract?: ExtractPolicy;
}

/** A grader's verdict: whether the answers are equal, and why. */
export type GradeResult = Verdict;

/**
 * The grader's rule-set version, recorded when a run is re-graded (`eval rescore`). Raised whenever
 * a rule changes a verdict; docs/grading.md ("Versions") says what each version changed.
 */
export const GRADER_VERSION = '2';

/** Any grader of a predicted answer against the gold one (gradeAnswer is the default of eval and rollouts). */
export type GradeFn = (pred: string | null, gold: string) => GradeResult | Promise<GradeResult>;

/** The settings gradeAnswer uses for the options not given. */
export const DEFAULT_GRADE_OPTIONS: Readonly<Required<GradeOptions>> = {
  timeLimitMs: 1000,
  relTol: 1e-6,
  maxLength: 500,
  extract: 'boxed',
};

type Tuple = Extract<AnswerNode, { kind: 'tuple' }>;

/**
 * Grade a predicted answer against the gold one. Either string may also be a whole response: when
 * it holds a box or think tags its final answer is extracted first (see extractAnswer).
 */
export function gradeAnswer(pred: string | null, gold: string, opts: GradeOptions = {}): GradeResult {
  const o = { ...DEFAULT_GRADE_OPTIONS, ...opts };
  const p = pred === null ? null : answerOf(pred, o.extract);
  const g = answerOf(gold, o.extract);
  if (g === null || normalizeAnswer(g) === '') return { equal: false, reason: 'gold has no answer' };
  if (p === null) return { equal: false, reason: 'no answer' };
  const np = normalizeAnswer(p);
  const ng = normalizeAnswer(g);
  if (np === '') return { equal: false, reason: 'no answer' };
  if (compact(np) === compact(ng)) return { equal: true, reason: 'string: equal after normalization' };
  const ctx: CompareContext = { deadline: new Deadline(o.timeLimitMs), relTol: o.relTol, maxLength: o.maxLength };
  try {
    return compareNodes(parseStructure(np), parseStructure(ng), ctx);
  } catch (err) {
    if (err instanceof GradeTimeout) return { equal: false, reason: `timeout: ${err.message}` };
    return { equal: false, reason: `error: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** True when `pred` is equivalent to `gold` (see gradeAnswer). */
export function isEquivalent(pred: string | null, gold: string, opts?: GradeOptions): boolean {
  return gradeAnswer(pred, gold, opts).equal;
}

function compareNodes(p: AnswerNode, g: AnswerNode, ctx: CompareContext): Verdict {
  if (g.kind === 'relation' && p.kind !== 'relation') {
    // Gold `x = 5` accepts `5`; gold `2x+z=1` does not accept `1`.
    const stated = statement(g);
    if (stated) return compareNodes(p, parseStructure(stated.value), ctx);
    const interval = p.kind === 'tuple' || p.kind === 'union' ? relationAsInterval(g) : null;
    if (interval) return compareNodes(p, interval, ctx);
    return { equal: false, reason: 'gold is a relation, prediction is not' };
  }
  if (p.kind === 'relation' && g.kind !== 'relation') {
    // Restating an interval gold as an inequality is not accepted (Math-Verify's asymmetry).
    const stated = statement(p);
    if (stated) return compareStatedValue(stated, g, ctx);
    return { equal: false, reason: 'prediction is a relation, gold is not' };
  }
  switch (g.kind) {
    case 'relation':
      return compareStatements(p as Relation, g, ctx) ?? compareRelations(p as Relation, g, ctx);
    case 'expr':
      if (p.kind !== 'expr') return mismatch(p, g);
      if (p.opaque || g.opaque) {
        const equal = compact(p.latex) === compact(g.latex);
        return { equal, reason: `text: ${equal ? 'equal' : 'differs'} (not read as a number)` };
      }
      return compareScalars(p.latex, g.latex, ctx);
    case 'matrix': {
      if (p.kind !== 'matrix') return mismatch(p, g);
      if (p.rows.length !== g.rows.length || p.rows.some((r, i) => r.length !== g.rows[i]!.length)) {
        return { equal: false, reason: 'matrix: shapes differ' };
      }
      return ordered(p.rows.flat(), g.rows.flat(), ctx, 'matrix');
    }
    case 'tuple':
      if (p.kind === 'tuple') {
        if (p.items.length !== g.items.length) return { equal: false, reason: 'tuple: lengths differ' };
        if (g.items.length === 2 && (p.open !== g.open || p.close !== g.close)) {
          return { equal: false, reason: `interval: ${p.open}${p.close} vs ${g.open}${g.close}` };
        }
        return ordered(p.items, g.items, ctx, 'tuple');
      }
      // A bare list against a tuple: same items in the same order.
      if (p.kind === 'list' && p.items.length === g.items.length) return ordered(p.items, g.items, ctx, 'tuple');
      return mismatch(p, g);
    case 'list':
      if (p.kind === 'list') return unordered(p.items, g.items, ctx, 'list', true);
      if (p.kind === 'set') return unordered(p.items, g.items, ctx, 'set', false);
      if (p.kind === 'tuple' && p.items.length === g.items.length) return ordered(p.items, g.items, ctx, 'tuple');
      return mismatch(p, g);
    case 'set':
      return p.kind === 'set' || p.kind === 'list' ? unordered(p.items, g.items, ctx, 'set', false) : mismatch(p, g);
    case 'union':
      return p.kind === 'union' ? unordered(p.items, g.items, ctx, 'union', false) : mismatch(p, g);
  }
}

function compareScalars(a: string, b: string, ctx: CompareContext): Verdict {
  if (compact(a) === compact(b)) return { equal: true, reason: 'string: equal' };
  // Words (`Evelyn`, `odd`) compare as text, case-insensitively; single letters stay symbols.
  const words = /^[A-Za-z][A-Za-z ]*$/;
  if (words.test(a) && words.test(b) && Math.max(compact(a).length, compact(b).length) > 1) {
    const equal = compact(a).toLowerCase() === compact(b).toLowerCase();
    return { equal, reason: `text: ${equal ? 'equal' : 'differs'}` };
  }
  // Our own reader decides what it can (exact rationals, clear numeric evidence); the engine the rest.
  return numericEqual(a, b, ctx) ?? symbolicEqual(a, b, ctx);
}

/**
 * Two equality statements with the same label (`x = 5+5+1 = 11` and `x = 11`), or where either is a
 * computation (`8 \times 9 = 72`), compare by the values they state. Null: compare as relations,
 * so `k = 1` and `n = 1` still differ.
 */
function compareStatements(p: Relation, g: Relation, ctx: CompareContext): Verdict | null {
  const a = statement(p);
  const b = statement(g);
  if (!a || !b) return null;
  const sameLabel = a.label !== null && b.label !== null && labelKey(a.label) === labelKey(b.label);
  if (!sameLabel && a.label !== null && b.label !== null) return null;
  return compareNodes(parseStructure(a.value), parseStructure(b.value), ctx);
}

/**
 * A predicted statement against a plain gold: the exact value decides; its `\approx` tail counts
 * too when the gold is itself a decimal (`\frac{40}{3} \approx 13.33` against a measured `13.33`).
 */
function compareStatedValue(stated: Statement, g: AnswerNode, ctx: CompareContext): Verdict {
  const exact = compareNodes(parseStructure(stated.value), g, ctx);
  if (exact.equal || stated.approx === undefined || g.kind !== 'expr' || !hasDecimal(g.latex)) return exact;
  const approx = compareNodes(parseStructure(stated.approx), g, ctx);
  return approx.equal ? { equal: true, reason: `approximation: ${approx.reason}` } : exact;
}

type Oriented = { terms: string[]; ops: ('<' | '\\le' | '=' | '\\ne')[] };

/** `a > b` becomes `b < a` (the whole chain reversed) so directions compare directly. */
function orient(r: Relation): Oriented {
  const flip = r.ops.some((op) => op === '>' || op === '\\ge');
  const map = (op: RelationOp) => (op === '>' ? '<' : op === '\\ge' ? '\\le' : op === '\\approx' ? '=' : op);
  return flip
    ? { terms: [...r.terms].reverse(), ops: [...r.ops].reverse().map(map) }
    : { terms: r.terms, ops: r.ops.map(map) };
}

function compareRelations(p: Relation, g: Relation, ctx: CompareContext): Verdict {
  const a = orient(p);
  const b = orient(g);
  if (a.ops.join() !== b.ops.join())
    return { equal: false, reason: `relation: ${a.ops.join(' ')} vs ${b.ops.join(' ')}` };
  if (a.terms.length === 2) {
    // One relation is the other scaled: `2x+4y-3=0` is `y = -x/2 + 3/4`; `-x > -1` is `x < 1`.
    const pa: [string, string] = [a.terms[0]!, a.terms[1]!];
    const pb: [string, string] = [b.terms[0]!, b.terms[1]!];
    const positive = a.ops[0] === '<' || a.ops[0] === '\\le';
    const v = numericProportional(pa, pb, positive, ctx) ?? symbolicProportional(pa, pb, positive, ctx);
    if (v.equal) return v;
    // Relations between constants, or ones no tier can evaluate, can still match term by term.
    const terms = sameTerms(a, b, ctx);
    return terms.equal ? terms : v;
  }
  return sameTerms(a, b, ctx);
}

/** The same terms in the same places (chains, and the fallback for two-term relations). */
function sameTerms(a: Oriented, b: Oriented, ctx: CompareContext): Verdict {
  const expr = (latex: string): AnswerNode => ({ kind: 'expr', latex });
  return ordered(a.terms.map(expr), b.terms.map(expr), ctx, 'relation');
}

const expr = (latex: string): AnswerNode => ({ kind: 'expr', latex });
const isNumeric = (t: string) => !/[A-Za-z]/.test(t.replace(/\\(?:infty|pi|sqrt|frac|cdot|times)/g, ''));
/** `|x|`, `|z|`: the absolute value of one variable. */
const ABSOLUTE = /^\|\s*[A-Za-z](?:_(?:\{\w+\}|\w))?\s*\|$/;

/**
 * `a < x \le b` -> `(a, b]`, `x \ge c` -> `[c, \infty)`, and an absolute value bounded by numbers
 * -> the intervals it describes (`1 \le |z| \le 2` -> `[-2, -1] \cup [1, 2]`, `|x| < 3` -> `(-3, 3)`);
 * null when the relation is no interval.
 */
function relationAsInterval(r: Relation): AnswerNode | null {
  const o = orient(r);
  if (!o.ops.every((op) => op === '<' || op === '\\le')) return null;
  const absolute = absoluteAsIntervals(o);
  if (absolute) return absolute;
  if (o.terms.length === 3 && !isNumeric(o.terms[1]!)) {
    return {
      kind: 'tuple',
      open: o.ops[0] === '<' ? '(' : '[',
      close: o.ops[1] === '<' ? ')' : ']',
      items: [expr(o.terms[0]!), expr(o.terms[2]!)],
    };
  }
  if (o.terms.length === 2) {
    const [lhs, rhs] = [o.terms[0]!, o.terms[1]!];
    const strict = o.ops[0] === '<';
    if (!isNumeric(lhs) && isNumeric(rhs)) {
      return { kind: 'tuple', open: '(', close: strict ? ')' : ']', items: [expr('-\\infty'), expr(rhs)] };
    }
    if (isNumeric(lhs) && !isNumeric(rhs)) {
      return { kind: 'tuple', open: strict ? '(' : '[', close: ')', items: [expr(lhs), expr('\\infty')] };
    }
  }
  return null;
}

/** `a < |x| < b`, `|x| < b` or `|x| > a` (numeric bounds, `a` positive) as intervals; null otherwise. */
function absoluteAsIntervals(o: Oriented): AnswerNode | null {
  const [first = '', second = '', third] = o.terms;
  const open = (i: number) => o.ops[i] === '<';
  let lower: { at: string; open: boolean } | null;
  let upper: { at: string; open: boolean };
  if (o.terms.length === 3 && ABSOLUTE.test(second) && isNumeric(first) && isNumeric(third!)) {
    [lower, upper] = [
      { at: first, open: open(0) },
      { at: third!, open: open(1) },
    ];
  } else if (o.terms.length === 2 && ABSOLUTE.test(first) && isNumeric(second)) {
    [lower, upper] = [null, { at: second, open: open(0) }];
  } else if (o.terms.length === 2 && ABSOLUTE.test(second) && isNumeric(first)) {
    [lower, upper] = [
      { at: first, open: open(0) },
      { at: '\\infty', open: true },
    ];
  } else return null;
  const interval = (a: string, aOpen: boolean, b: string, bOpen: boolean): Tuple => ({
    kind: 'tuple',
    open: aOpen ? '(' : '[',
    close: bOpen ? ')' : ']',
    items: [expr(a), expr(b)],
  });
  const neg = (t: string) => (t === '\\infty' ? '-\\infty' : `-(${t})`);
  if (lower === null) return interval(neg(upper.at), upper.open, upper.at, upper.open);
  if (!isPositive(lower.at)) return null;
  return {
    kind: 'union',
    items: [
      interval(neg(upper.at), upper.open, neg(lower.at), lower.open),
      interval(lower.at, lower.open, upper.at, upper.open),
    ],
  };
}

/** A bound our own reader evaluates to a positive real number. */
function isPositive(latex: string): boolean {
  const e = parseLatex(latex);
  if (!e) return false;
  const v = evaluate(e, {});
  return Math.abs(v.im) < 1e-12 && v.re > 0;
}

function ordered(p: AnswerNode[], g: AnswerNode[], ctx: CompareContext, what: string): Verdict {
  if (p.length !== g.length) return { equal: false, reason: `${what}: lengths differ` };
  for (let i = 0; i < g.length; i++) {
    const v = compareNodes(p[i]!, g[i]!, ctx);
    if (!v.equal) return { equal: false, reason: `${what} item ${i + 1}: ${v.reason}` };
  }
  return { equal: true, reason: `${what}: all ${g.length} items equal` };
}

/**
 * Order-free comparison. As a multiset every item pairs off exactly once (root lists keep
 * multiplicity); as a set each item only needs some equal partner on the other side.
 */
function unordered(p: AnswerNode[], g: AnswerNode[], ctx: CompareContext, what: string, multiset: boolean): Verdict {
  if (multiset && p.length !== g.length) return { equal: false, reason: `${what}: ${p.length} items vs ${g.length}` };
  const used = new Set<number>();
  for (const [i, item] of p.entries()) {
    const j = g.findIndex((other, k) => !(multiset && used.has(k)) && compareNodes(item, other, ctx).equal);
    if (j < 0) return { equal: false, reason: `${what}: prediction item ${i + 1} has no match` };
    used.add(j);
  }
  if (!multiset) {
    for (const [j, item] of g.entries()) {
      if (!used.has(j) && !p.some((other) => compareNodes(other, item, ctx).equal)) {
        return { equal: false, reason: `${what}: gold item ${j + 1} has no match` };
      }
    }
  }
  return { equal: true, reason: `${what}: items match in some order` };
}

function mismatch(p: AnswerNode, g: AnswerNode): Verdict {
  return { equal: false, reason: `structure: ${p.kind} vs ${g.kind}` };
}

function compact(s: string): string {
  return s.replace(/\s+/g, '');
}
