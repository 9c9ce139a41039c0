/**
 * The shape of a normalized answer: a scalar expression, or a container of answers (bare list,
 * set, tuple/interval, union of intervals, matrix), or a relation. Splitting happens on top-level
 * separators only, so commas inside `f(x,y)` or `\frac{a,b}` stay put.
 */
import { mixedNumber } from './normalize.js';

export type RelationOp = '=' | '<' | '\\le' | '>' | '\\ge' | '\\ne' | '\\approx';

export type AnswerNode =
  | { kind: 'expr'; latex: string }
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

const MATRIX = /^\\begin\{(pmatrix|bmatrix|Bmatrix|vmatrix|Vmatrix|matrix|smallmatrix|array)\}(?:\s*\{[^{}]*\})?([\s\S]*)\\end\{\1\}$/;
// Relation symbols after normalization (which maps \leq, >=, \neq, ... to these spellings).
const RELATION = /\\approx(?![A-Za-z])|\\le(?![A-Za-z])|\\ge(?![A-Za-z])|\\ne(?![A-Za-z])|<|>|=/y;
/** A simple variable that an assignment can name: `x`, `k`, `a_1`, `\alpha`, `f(x)`, `(p,q)`. */
const ASSIGNABLE = /^(?:[A-Za-z](?:_\{?\w+\}?)?|\\[A-Za-z]+(?:_\{?\w+\}?)?|[A-Za-z]\([A-Za-z]\)|\((?:[A-Za-z](?:_\{?\w+\}?)?\s*,\s*)+[A-Za-z](?:_\{?\w+\}?)?\))$/;

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
  if (member && ASSIGNABLE.test(member[1]!.trim())) return parseStructure(member[2]!);

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
  return { kind: 'expr', latex: mixedNumber(s) };
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

/** True when the relation's left side is a bare variable and the relation states its value. */
export function isAssignment(node: AnswerNode): node is Extract<AnswerNode, { kind: 'relation' }> {
  return (
    node.kind === 'relation' &&
    node.ops.every((op) => op === '=' || op === '\\approx') &&
    ASSIGNABLE.test(node.terms[0]!.replace(/\s+/g, ''))
  );
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
        const sep = separators.find((p) => p.startsWith('\\') && s.startsWith(p, i) && !/[A-Za-z]/.test(s[i + p.length] ?? ''));
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
