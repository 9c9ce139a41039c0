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

// Relation symbols after normalization (which maps \leq, >=, \neq, ... to these spellings).
const RELATION = /\\approx(?![A-Za-z])|\\le(?![A-Za-z])|\\ge(?![A-Za-z])|\\ne(?![A-Za-z])|<|>|=/y;

/** Split a normalized answer into its structure. */
export function parseStructure(text: string): AnswerNode {
  const s = text.trim();
  const matrix = matrixExpression(s);
  if (matrix) return { kind: 'matrix', rows: matrix.map((row) => row.map((cell) => parseStructure(cell))) };

  const union = splitTop(s, ['\\cup']);
  if (union.length > 1) return { kind: 'union', items: union.map(parseStructure) };

  const groups = assignmentGroups(s);
  if (groups) return { kind: 'list', items: groups };
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

/**
 * `p=5,q=2;p=7,q=2`: solutions written as `;`-separated groups of labelled values are tuples, one
 * per group, each item still labelled (so `(5,2),(7,2)` matches). Null unless every group is two or
 * more `label = value` items.
 */
function assignmentGroups(s: string): AnswerNode[] | null {
  const groups = splitTop(s, [';']).filter((g) => g !== '');
  if (groups.length < 2) return null;
  const tuples: AnswerNode[] = [];
  for (const g of groups) {
    const items = splitTop(g, [',']).map(parseStructure);
    if (
      items.length < 2 ||
      !items.every((i) => i.kind === 'relation' && i.ops.length === 1 && i.ops[0] === '=' && isLabel(i.terms[0]!))
    )
      return null;
    tuples.push({ kind: 'tuple', open: '(', close: ')', items });
  }
  return tuples;
}

type Cells = string[][];

/**
 * A matrix, or a sum, difference or product of matrices written out (`A + B`, `A B`, `A \cdot B`),
 * as the cells of the result (each cell the LaTeX of its entry). Null when `s` is not made of
 * matrices alone, or their shapes do not fit.
 */
function matrixExpression(s: string): Cells | null {
  const terms: Array<{ op: string; cells: Cells }> = [];
  let i = 0;
  let op = '';
  for (;;) {
    const m = MATRIX_OPEN.exec(s.slice(i));
    if (!m || m.index !== 0) return null;
    const env = m[1]!;
    const end = environmentEnd(s, i, env);
    if (end < 0) return null;
    const inner = s.slice(i + m[0].length, end - `\\end{${env}}`.length);
    const body = inner.trim().replace(/\\\\\s*$/, '');
    terms.push({ op, cells: splitTop(body, ['\\\\']).map((row) => splitTop(row, ['&'])) });
    const next = /^\s*(\+|-|\\cdot(?![A-Za-z])|\\times(?![A-Za-z]))?\s*/.exec(s.slice(end))!;
    i = end + next[0].length;
    if (i >= s.length) break;
    op = next[1] ?? '*';
  }
  // Products first, then sums and differences, left to right.
  const sums: Array<{ op: string; cells: Cells }> = [];
  for (const t of terms) {
    if (t.op === '' || t.op === '+' || t.op === '-') sums.push({ ...t });
    else {
      const last = sums.at(-1)!;
      const product = matrixProduct(last.cells, t.cells);
      if (!product) return null;
      last.cells = product;
    }
  }
  let result = sums[0]!.cells;
  for (const t of sums.slice(1)) {
    const sum = matrixSum(result, t.cells, t.op as '+' | '-');
    if (!sum) return null;
    result = sum;
  }
  return result;
}

const MATRIX_OPEN = /\\begin\{(pmatrix|bmatrix|Bmatrix|vmatrix|Vmatrix|matrix|smallmatrix|array)\}(?:\s*\{[^{}]*\})?/;

/** Index just past the `\end{env}` closing the `\begin{env}` at `start`, or -1. */
function environmentEnd(s: string, start: number, env: string): number {
  const re = new RegExp(`\\\\(begin|end)\\{${env}\\}`, 'g');
  re.lastIndex = start;
  let depth = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    depth += m[1] === 'begin' ? 1 : -1;
    if (depth === 0) return m.index + m[0].length;
  }
  return -1;
}

const sameShape = (a: Cells, b: Cells) => a.length === b.length && a.every((r, i) => r.length === b[i]!.length);

function matrixSum(a: Cells, b: Cells, op: '+' | '-'): Cells | null {
  if (!sameShape(a, b)) return null;
  return a.map((row, i) => row.map((x, j) => `(${x})${op}(${b[i]![j]!})`));
}

function matrixProduct(a: Cells, b: Cells): Cells | null {
  const inner = b.length;
  if (!a.every((r) => r.length === inner) || !b.every((r) => r.length === b[0]!.length)) return null;
  return a.map((row) => b[0]!.map((_, j) => row.map((x, k) => `(${x})\\cdot(${b[k]![j]!})`).join('+')));
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
  if (terms.every(isConstant)) return { label: null, value, ...approx };
  // A chain of three or more members that ends in a number is a derivation: it states that number.
  return terms.length >= 3 && isConstant(value) ? { label: null, value, ...approx } : null;
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
