/**
 * The shape of a normalized answer: a scalar expression, or a container of answers (bare list,
 * set, tuple/interval, union of intervals, matrix), or a relation. Splitting happens on top-level
 * separators only, so commas inside `f(x,y)` or `\frac{a,b}` stay put.
 */
import { parseLatex, variables } from './latex-eval.js';
import { mixedNumber } from './normalize.js';

/** A relation symbol between terms, as normalization spells it. */
export type RelationOp = '=' | '<' | '\\le' | '>' | '\\ge' | '\\ne' | '\\approx';

/**
 * The structure of a normalized answer as parseStructure splits it: a scalar, a container of
 * answers (list, set, tuple or interval, union, matrix), or a relation.
 */
export type AnswerNode =
  /** `opaque`: not read as maths (a malformed mixed number such as `11 6/6`); compared as text. */
  | { kind: 'expr'; latex: string; opaque?: true }
  /** A bare comma/semicolon list, e.g. roots `1,-2`: compared as a multiset. */
  | { kind: 'list'; items: AnswerNode[] }
  /** `\{...\}` or `\pm a`: compared as a set. */
  | { kind: 'set'; items: AnswerNode[] }
  /** `(a,b)`, `[a,b)`, `(a,b,c)`: ordered; with two items the brackets say which interval. */
  | { kind: 'tuple'; open: '(' | '['; close: ')' | ']'; items: AnswerNode[] }
  /** `A \cup B \cup ...`: compared as a set of parts. */
  | { kind: 'union'; items: AnswerNode[] }
  | { kind: 'matrix'; rows: AnswerNode[][] }
  /** `a op b op c ...` with terms kept as LaTeX. */
  | { kind: 'relation'; terms: string[]; ops: RelationOp[] };

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);

const MATRIX =
  /^\\begin\{(pmatrix|bmatrix|Bmatrix|vmatrix|Vmatrix|matrix|smallmatrix|array)\}(?:\s*\{[^{}]*\})?([\s\S]*)\\end\{\1\}$/;
// Relation symbols after normalization (which maps \leq, >=, \neq, ... to these spellings).
const RELATION = /\\approx(?![A-Za-z])|\\le(?![A-Za-z])|\\ge(?![A-Za-z])|\\ne(?![A-Za-z])|<|>|=/y;

/** Split a normalized answer into its structure. */
export function parseStructure(text: string): AnswerNode {
  const s = text.trim();
  const matrix = MATRIX.exec(s);
  if (matrix) {
    const body = matrix[2]!.trim().replace(/\\\\\s*$/, '');
    const rows = splitTop(body, ['\\\\']).map((row) => splitTop(row, ['&']).map((cell) => parseStructure(cell)));
    return { kind: 'matrix', rows };
  }

  const union = splitTop(s, ['\\cup']);
  if (union.length > 1) return { kind: 'union', items: union.map(parseStructure) };

  const parts = splitTop(s, [',', ';']).filter((p) => p.trim() !== '');
  if (parts.length > 1) return { kind: 'list', items: parts.map(parseStructure) };

  const relation = splitRelation(s);
  if (relation) return relation;
  // `x \in S` names the set S; the variable adds nothing.
  const member = /^(.+?)\\in(?![A-Za-z])(.+)$/.exec(s);
  if (member && isLabel(member[1]!)) return parseStructure(member[2]!);

  if (s === '\\emptyset' || s === '\\{\\}') return { kind: 'set', items: [] };
  if (s.startsWith('\\{') && s.endsWith('\\}') && groupEnd(s, 0) === s.length - 2) {
    const inner = s.slice(2, -2).trim();
    return { kind: 'set', items: inner ? splitTop(inner, [',', ';']).map(parseStructure) : [] };
  }
  if ((s[0] === '(' || s[0] === '[') && groupEnd(s, 0) === s.length - 1) {
    const inner = s.slice(1, -1);
    const items = splitTop(inner, [',', ';']);
    if (items.length === 1) return parseStructure(inner); // (9+1) is just 9+1
    const open = s[0];
    const close = s.at(-1) === ']' ? ']' : ')';
    return { kind: 'tuple', open, close, items: items.map(parseStructure) };
  }
  const pm = plusMinus(s);
  if (pm) return pm;
  const mixed = mixedNumber(s);
  return mixed === null ? { kind: 'expr', latex: s, opaque: true } : { kind: 'expr', latex: mixed };
}

/** `\pm a` -> {a, -a}; `a \pm b` -> {a+b, a-b}. Only a single top-level `\pm`/`\mp`. */
function plusMinus(s: string): AnswerNode | null {
  const parts = splitTop(s, ['\\pm', '\\mp']);
  if (parts.length !== 2) return null;
  const [a = '', b = ''] = parts.map((p) => p.trim());
  const items = a === '' ? [b, `-(${b})`] : [`${a}+(${b})`, `${a}-(${b})`];
  return { kind: 'set', items: items.map((latex) => ({ kind: 'expr', latex })) };
}

function splitRelation(s: string): AnswerNode | null {
  const terms: string[] = [];
  const ops: RelationOp[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && (s[i + 1] === '{' || s[i + 1] === '}')) {
      depth += s[i + 1] === '{' ? 1 : -1;
      i++;
      continue;
    }
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c)) depth--;
    if (depth !== 0) continue;
    RELATION.lastIndex = i;
    const m = RELATION.exec(s);
    if (!m) continue;
    terms.push(s.slice(start, i).trim());
    ops.push(m[0] as RelationOp);
    start = i + m[0].length;
    i = start - 1;
  }
  if (ops.length === 0) return null;
  terms.push(s.slice(start).trim());
  if (terms.some((t) => t === '')) return null;
  return { kind: 'relation', terms, ops };
}

/**
 * A name on the left of `=` rather than an expression: `x`, `AB`, `\overline{CD}`, `|PQ|`,
 * `f^{-1}(x)`, `g'(x)`, `\tan\alpha`, `Area`, `(p,q)`. It is not a number or constant expression,
 * has no top-level sum or difference (`2x+z`, `-x`), no leading coefficient (`2y`), and is not a
 * power of one variable (`x^2`): those are equations whose left side is part of the answer.
 */
export function isLabel(term: string): boolean {
  const t = term.replace(/\s+/g, '');
  if (!/[A-Za-z]/.test(t.replace(/\\(?:frac|dfrac|sqrt|cdot|times|pi|infty)(?![A-Za-z])/g, ''))) return false;
  if (/^[\d.]/.test(t) || isConstant(t)) return false;
  if (splitTop(t, ['+', '-', '\\pm', '\\mp']).length > 1) return false;
  return !/^(?:[A-Za-z]|\\[A-Za-z]+)(?:_(?:\{[^{}]*\}|\w))?\^(?!\{?-1\}?(?![\d]))/.test(t);
}

/** A label without decorations, so `\overline{AB}`, `|AB|` and `AB` name the same thing. */
export function labelKey(label: string): string {
  return label.replace(/\\(?:overline|overrightarrow|vec|mathbf|mathrm|text|left|right)(?![A-Za-z])|[\s{}|]/g, '');
}

/** A constant expression by our own reader: a number, or arithmetic on numbers, pi and e. */
export function isConstant(latex: string): boolean {
  const expr = parseLatex(latex);
  return expr !== null && variables(expr).length === 0;
}

/** True when our reader sees free variables (false when it cannot read the expression at all). */
function hasVariables(latex: string): boolean {
  const expr = parseLatex(latex);
  return expr !== null && variables(expr).length > 0;
}

export type Relation = Extract<AnswerNode, { kind: 'relation' }>;

/** What an equality statement asserts: `label = … = value`, or the value a computation ends in. */
export interface Statement {
  label: string | null;
  value: string;
  /** The approximation written after `\approx`, when there is one (`13.33` in `\frac{40}{3} \approx 13.33`). */
  approx?: string;
}

/**
 * The value an equality chain states, or null for a genuine equation (`2x+z=1`, `7 = 11a+c`):
 * - an `\approx` tail is an approximation of what precedes it, so the exact part is kept
 *   (`\frac{40}{3} \approx 13.33` states 40/3; `x \approx 11` states 11);
 * - a label on the left names the value at the right end (`x = 5+5+1 = 11`, `AB = 7`);
 * - a chain of constants is a computation whose result is its last member (`8 \times 9 = 72`).
 */
export function statement(r: Relation): Statement | null {
  if (!r.ops.every((op) => op === '=' || op === '\\approx')) return null;
  let terms = r.terms;
  const at = r.ops.indexOf('\\approx');
  const labelled = isLabel(terms[0]!);
  let approx: { approx?: string } = {};
  if (at === 0 && labelled) terms = terms.slice(0, 2);
  else if (at >= 0) [terms, approx] = [terms.slice(0, at + 1), { approx: terms[at + 1]! }];
  const value = terms.at(-1)!;
  // `2x+1 \approx 5` is an approximate equation, not an approximated value.
  if (terms.length === 1) return hasVariables(value) ? null : { label: null, value, ...approx };
  if (labelled) return { label: terms[0]!, value, ...approx };
  return terms.every(isConstant) ? { label: null, value, ...approx } : null;
}

/**
 * Split on separators that sit at bracket depth 0. Brackets of any kind count as nesting (so the
 * half-open interval `[0,1)` nests correctly), as do `\{ \}` and `\begin ... \end`.
 */
function splitTop(s: string, separators: string[]): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (s.startsWith('\\begin', i)) depth++;
      else if (s.startsWith('\\end', i)) depth--;
      else if (s[i + 1] === '{') depth++;
      else if (s[i + 1] === '}') depth--;
      if (depth === 0) {
        const sep = separators.find(
          (p) => p.startsWith('\\') && s.startsWith(p, i) && !/[A-Za-z]/.test(s[i + p.length] ?? ''),
        );
        if (sep) {
          out.push(s.slice(start, i));
          start = i + sep.length;
          i = start - 1;
          continue;
        }
      }
      if (s[i + 1] === '{' || s[i + 1] === '}' || s[i + 1] === '\\') i++;
      continue;
    }
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c)) depth--;
    else if (depth === 0 && separators.includes(c)) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map((p) => p.trim());
}

/** Index of the bracket closing the group opened at `open` (any bracket kind); -1 if none. */
function groupEnd(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      if (s[i + 1] === '{') depth++;
      else if (s[i + 1] === '}' && --depth === 0) return i;
      i++;
      continue;
    }
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c) && --depth === 0) return i;
  }
  return -1;
}
