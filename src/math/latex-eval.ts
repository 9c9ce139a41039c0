/**
 * A small LaTeX expression reader and complex evaluator for the fast numeric tier. It covers the
 * notation of ordinary answers (numbers, letters, + - * / ^, \frac, \sqrt, \binom, common
 * functions, implicit products) and reads it the way compute-engine does (`e` is Euler's number,
 * `i` the imaginary unit, `f(x)` a product). Anything else is refused so the engine decides.
 */
import * as C from './complex.js';
import type { Complex } from './complex.js';
import * as N from './number.js';
import type { ExactNumber } from './number.js';

export type Expr =
  /** `exact` is set for rational literals (not for pi, e or i). */
  | { op: 'num'; value: Complex; exact?: ExactNumber }
  | { op: 'var'; name: string }
  | { op: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'binom' | 'root' | 'log'; a: Expr; b: Expr }
  | { op: 'neg' | 'abs' | 'fact'; a: Expr }
  | { op: 'fn'; name: FunctionName; a: Expr }
  /** `\sum_{v=from}^{to} a` / `\prod`: `v` is bound inside `a`. */
  | { op: 'sum' | 'prod'; v: string; from: Expr; to: Expr; a: Expr };

/** Most terms a sum or product is expanded to. */
const MAX_TERMS = 10_000;

const FUNCTIONS = {
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  sec: (x: number) => 1 / Math.cos(x),
  csc: (x: number) => 1 / Math.sin(x),
  cot: (x: number) => 1 / Math.tan(x),
  arcsin: Math.asin,
  arccos: Math.acos,
  arctan: Math.atan,
  sinh: Math.sinh,
  cosh: Math.cosh,
  tanh: Math.tanh,
  ln: null,
  exp: null,
} satisfies Record<string, ((x: number) => number) | null>;
type FunctionName = keyof typeof FUNCTIONS;
const INVERSES: Partial<Record<FunctionName, FunctionName>> = { sin: 'arcsin', cos: 'arccos', tan: 'arctan' };
const isOne = (e: Expr): boolean => e.op === 'num' && e.value.re === 1 && e.value.im === 0;

const GREEK = new Set(
  'alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega'.split(
    ' ',
  ),
);

/** Thrown when the reader meets notation it does not cover: one instance, so no throw builds a stack trace. */
class Unsupported extends Error {}
const UNSUPPORTED = new Unsupported('notation the reader does not cover');

/** Parse LaTeX into an expression tree, or null when it uses notation this reader does not cover. */
export function parseLatex(latex: string): Expr | null {
  try {
    const reader = new Reader(latex);
    const expr = reader.sum();
    reader.end();
    return expr;
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
}

/** The variable names in an expression, sorted. */
export function variables(expr: Expr): string[] {
  const out = new Set<string>();
  const walk = (e: Expr, bound: ReadonlySet<string>): void => {
    if (e.op === 'var') {
      if (!bound.has(e.name)) out.add(e.name);
    } else if (e.op === 'sum' || e.op === 'prod') {
      walk(e.from, bound);
      walk(e.to, bound);
      walk(e.a, new Set([...bound, e.v]));
    } else if (e.op !== 'num') {
      walk(e.a, bound);
      if ('b' in e) walk(e.b, bound);
    }
  };
  walk(expr, new Set());
  return [...out].sort();
}

/** Evaluate at a point; NaN components mean undefined there. */
export function evaluate(e: Expr, point: Readonly<Record<string, number>>): Complex {
  switch (e.op) {
    case 'num':
      return e.value;
    case 'var':
      return C.complex(point[e.name] ?? NaN);
    case 'add':
      return C.add(evaluate(e.a, point), evaluate(e.b, point));
    case 'sub':
      return C.sub(evaluate(e.a, point), evaluate(e.b, point));
    case 'mul':
      return C.mul(evaluate(e.a, point), evaluate(e.b, point));
    case 'div':
      return C.div(evaluate(e.a, point), evaluate(e.b, point));
    case 'pow':
      return C.pow(evaluate(e.a, point), evaluate(e.b, point));
    case 'neg':
      return C.neg(evaluate(e.a, point));
    case 'abs':
      return C.complex(C.abs(evaluate(e.a, point)));
    case 'root': {
      const x = evaluate(e.a, point);
      const n = evaluate(e.b, point);
      // The real odd root of a negative real, as in \sqrt[3]{-8} = -2.
      if (x.im === 0 && n.im === 0 && x.re < 0 && Number.isInteger(n.re) && n.re % 2 !== 0) {
        return C.complex(-Math.pow(-x.re, 1 / n.re));
      }
      return n.re === 2 && n.im === 0 ? C.sqrt(x) : C.pow(x, C.div(C.complex(1), n));
    }
    case 'log':
      return C.div(C.log(evaluate(e.a, point)), C.log(evaluate(e.b, point)));
    case 'fact': {
      const n = realInteger(evaluate(e.a, point));
      if (n === null || n < 0 || n > 170) return C.complex(NaN);
      let r = 1;
      for (let k = 2; k <= n; k++) r *= k;
      return C.complex(r);
    }
    case 'binom': {
      const n = realInteger(evaluate(e.a, point));
      const k = realInteger(evaluate(e.b, point));
      if (n === null || k === null || k < 0 || n < 0 || k > n || n > 1000) return C.complex(NaN);
      let r = 1;
      for (let j = 1; j <= Math.min(k, n - k); j++) r = (r * (n - j + 1)) / j;
      return C.complex(Math.round(r));
    }
    case 'sum':
    case 'prod': {
      const range = indexRange(realInteger(evaluate(e.from, point)), realInteger(evaluate(e.to, point)));
      if (!range) return C.complex(NaN);
      let acc = C.complex(e.op === 'sum' ? 0 : 1);
      for (let k = range[0]; k <= range[1]; k++) {
        const term = evaluate(e.a, { ...point, [e.v]: k });
        acc = e.op === 'sum' ? C.add(acc, term) : C.mul(acc, term);
      }
      return acc;
    }
    case 'fn': {
      const x = evaluate(e.a, point);
      if (e.name === 'ln') return C.log(x);
      if (e.name === 'exp') return C.exp(x);
      return x.im === 0 ? C.complex(FUNCTIONS[e.name](x.re)) : C.complex(NaN);
    }
  }
}

/**
 * The exact rational value of a constant expression built from rational literals with + - * /,
 * integer powers, factorials and binomials; null for anything else (variables, roots, pi, ...).
 */
export function exactValue(e: Expr, env: Readonly<Record<string, ExactNumber>> = {}): ExactNumber | null {
  switch (e.op) {
    case 'num':
      return e.exact ?? null;
    case 'var':
      return env[e.name] ?? null;
    case 'neg': {
      const a = exactValue(e.a, env);
      return a && N.negateNumber(a);
    }
    case 'fact': {
      const a = exactValue(e.a, env);
      return a && N.factorialNumber(a);
    }
    case 'sum':
    case 'prod': {
      const from = exactValue(e.from, env);
      const to = exactValue(e.to, env);
      const range =
        from && to && from.den === 1n && to.den === 1n ? indexRange(Number(from.num), Number(to.num)) : null;
      if (!range) return null;
      let acc: ExactNumber | null = { num: e.op === 'sum' ? 0n : 1n, den: 1n, approximate: false };
      for (let k = range[0]; k <= range[1] && acc; k++) {
        const term = exactValue(e.a, { ...env, [e.v]: { num: BigInt(k), den: 1n, approximate: false } });
        acc = term && (e.op === 'sum' ? N.addNumbers(acc, term) : N.multiplyNumbers(acc, term));
      }
      return acc;
    }
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
    case 'pow':
    case 'binom': {
      const a = exactValue(e.a, env);
      const b = a && exactValue(e.b, env);
      if (!a || !b) return null;
      if (e.op === 'add') return N.addNumbers(a, b);
      if (e.op === 'sub') return N.addNumbers(a, N.negateNumber(b));
      if (e.op === 'mul') return N.multiplyNumbers(a, b);
      if (e.op === 'div') return N.divide(a, b);
      if (e.op === 'pow') return N.powerNumbers(a, b);
      return N.binomialNumber(a, b);
    }
    default:
      return null;
  }
}

/** The integer index range of a sum or product, or null when unbounded, huge or not integral. */
function indexRange(from: number | null, to: number | null): [number, number] | null {
  if (from === null || to === null || !Number.isSafeInteger(from) || !Number.isSafeInteger(to)) return null;
  return to - from + 1 > MAX_TERMS ? null : [from, to];
}

function realInteger(x: Complex): number | null {
  return x.im === 0 && Number.isInteger(x.re) ? x.re : null;
}

const num = (re: number, im = 0): Expr => ({ op: 'num', value: C.complex(re, im) });
const literal = (text: string): Expr => {
  const exact = N.parseNumber(text);
  return exact ? { op: 'num', value: C.complex(Number(text)), exact } : num(Number(text));
};

/**
 * `a^b`. A rational exponent p/q with odd q takes the real branch, as `\sqrt[q]{a}^p` does:
 * `(x-4)^{1/3}` is the real cube root even where x - 4 < 0 (the principal complex power is not).
 */
function powerOf(a: Expr, b: Expr): Expr {
  const q = exactValue(b);
  if (!q || q.den === 1n || q.den % 2n === 0n || q.den > 999n) return { op: 'pow', a, b };
  const root: Expr = { op: 'root', a, b: num(Number(q.den)) };
  return q.num === 1n ? root : { op: 'pow', a: root, b: literal(q.num.toString()) };
}

class Reader {
  private i = 0;
  /** Index variables of the sums and products being read. */
  private readonly bound: string[] = [];
  constructor(private readonly s: string) {}

  end(): void {
    this.ws();
    if (this.i < this.s.length) throw UNSUPPORTED;
  }

  sum(): Expr {
    let left = this.unary();
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === '+' || c === '-') {
        this.i++;
        left = { op: c === '+' ? 'add' : 'sub', a: left, b: this.unary() };
      } else return left;
    }
  }

  private unary(): Expr {
    this.ws();
    if (this.eat('-')) return { op: 'neg', a: this.unary() };
    if (this.eat('+')) return this.unary();
    return this.product();
  }

  private product(): Expr {
    let left = this.power();
    for (;;) {
      this.ws();
      if (this.eat('*') || this.eatCommand('cdot') || this.eatCommand('times'))
        left = { op: 'mul', a: left, b: this.unaryFactor() };
      else if (this.eat('/') || this.eatCommand('div')) left = { op: 'div', a: left, b: this.unaryFactor() };
      else if (this.startsPrimary()) left = { op: 'mul', a: left, b: this.power() };
      else return left;
    }
  }

  /** The right operand of * or /: `2*-3` is allowed. */
  private unaryFactor(): Expr {
    this.ws();
    if (this.eat('-')) return { op: 'neg', a: this.unaryFactor() };
    return this.power();
  }

  private power(): Expr {
    let base = this.primary();
    for (;;) {
      this.ws();
      if (this.eat('!')) base = { op: 'fact', a: base };
      else if (this.eat('^')) base = powerOf(base, this.script());
      else return base;
    }
  }

  /** A superscript: a brace group, or one character / command (`x^2`, `x^-1` is refused). */
  private script(): Expr {
    this.ws();
    if (this.s[this.i] === '{') return this.group();
    return this.argument();
  }

  /** A command argument: `{...}` or a single token (`\frac12`, `\sqrt3`). */
  private argument(): Expr {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) throw UNSUPPORTED;
    if (c === '{') return this.group();
    if (/\d/.test(c)) {
      this.i++;
      return literal(c);
    }
    if (/[A-Za-z]/.test(c) || c === '\\') return this.primary();
    throw UNSUPPORTED;
  }

  private group(): Expr {
    this.expect('{');
    const e = this.sum();
    this.ws();
    this.expect('}');
    return e;
  }

  private primary(): Expr {
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (c === undefined) throw UNSUPPORTED;
    const number = /^(?:\d+(?:\.\d+)?|\.\d+)/.exec(s.slice(this.i));
    if (number) {
      this.i += number[0].length;
      return literal(number[0]);
    }
    if (c === '(' || c === '[' || c === '{') {
      this.i++;
      const e = this.sum();
      this.ws();
      this.expect(c === '(' ? ')' : c === '[' ? ']' : '}');
      return e;
    }
    if (c === '|') {
      this.i++;
      const e = this.sum();
      this.ws();
      this.expect('|');
      return { op: 'abs', a: e };
    }
    if (/[A-Za-z]/.test(c)) {
      this.i++;
      const sub = this.subscript();
      if (sub === null && c === 'e') return num(Math.E);
      if (sub === null && c === 'i') return num(0, 1);
      const name = c + (sub ?? '');
      return this.application(name) ?? { op: 'var', name };
    }
    if (c === '\\') return this.command();
    throw UNSUPPORTED;
  }

  /**
   * `I(0)`, `f(2)`: a letter applied to a constant is a function value, kept as one opaque
   * variable; read as a product it would be `I·0 = 0`. With variables inside (`x(x+1)`, `f(x)`)
   * the letter stays a factor, as compute-engine reads it.
   */
  private application(name: string): Expr | null {
    if (this.s[this.i] !== '(') return null;
    const start = this.i;
    const arg = this.primary();
    if (variables(arg).length > 0) {
      this.i = start;
      return null;
    }
    return { op: 'var', name: name + this.s.slice(start, this.i).replace(/\s+/g, '') };
  }

  /**
   * `_1`, `_k`, `_{k-1}` after a letter: kept as text in the variable's name, so `b_{k-1}` and `b_k`
   * are two independent symbols. A subscript that uses the index of an enclosing sum (`F_{n-k}`
   * inside `\sum_{k=...}`) would need indexed families, so it is left to the engine.
   */
  private subscript(): string | null {
    if (this.s[this.i] !== '_') return null;
    const m = /^_(?:\{([^{}]+)\}|([A-Za-z0-9]))/.exec(this.s.slice(this.i));
    if (!m) throw UNSUPPORTED;
    const text = (m[1] ?? m[2]!).replace(/\s+/g, '');
    if (this.bound.some((v) => new RegExp(`(?<![A-Za-z\\\\])${v}(?![A-Za-z])`).test(text))) throw UNSUPPORTED;
    this.i += m[0].length;
    return text.length === 1 ? `_${text}` : `_{${text}}`;
  }

  private command(): Expr {
    const m = /^\\([A-Za-z]+)/.exec(this.s.slice(this.i));
    if (!m) throw UNSUPPORTED;
    const name = m[1]!;
    this.i += m[0].length;
    if (name === 'frac') {
      const a = this.argument();
      return { op: 'div', a, b: this.argument() };
    }
    if (name === 'binom') {
      const a = this.argument();
      return { op: 'binom', a, b: this.argument() };
    }
    if (name === 'sqrt') {
      this.ws();
      let n: Expr = num(2);
      if (this.eat('[')) {
        n = this.sum();
        this.expect(']');
      }
      return { op: 'root', a: this.argument(), b: n };
    }
    if (name === 'pi') return num(Math.PI);
    if (name === 'sum' || name === 'prod') return this.bigOperator(name);
    if (GREEK.has(name)) return { op: 'var', name: `\\${name}${this.subscript() ?? ''}` };
    if (name === 'log') {
      this.ws();
      const base = this.eat('_') ? this.script() : num(10);
      return { op: 'log', a: this.functionArgument(), b: base };
    }
    if (name in FUNCTIONS) {
      this.ws();
      let fn = name as FunctionName;
      let exponent: Expr | null = null;
      if (this.eat('^')) {
        exponent = this.script();
        if (exponent.op === 'neg') {
          // `\sin^{-1}` is arcsin, as compute-engine reads it; other negative powers go to the engine.
          const inverse = INVERSES[fn];
          if (!inverse || !isOne(exponent.a)) throw UNSUPPORTED;
          [fn, exponent] = [inverse, null];
        }
      }
      const f: Expr = { op: 'fn', name: fn, a: this.functionArgument() };
      return exponent ? { op: 'pow', a: f, b: exponent } : f;
    }
    throw UNSUPPORTED;
  }

  /**
   * `\sum_{k=a}^{b} term`. Where a summand ends is ambiguous (`\sum k + 1`), so a sum followed by
   * `+` or `-` at the same level is left to the engine; the summand is one product term.
   */
  private bigOperator(kind: 'sum' | 'prod'): Expr {
    this.ws();
    const lower = /^_\{\s*([A-Za-z])\s*=/.exec(this.s.slice(this.i));
    if (!lower) throw UNSUPPORTED;
    this.i += lower[0].length;
    const from = this.sum();
    this.ws();
    this.expect('}');
    this.ws();
    this.expect('^');
    const to = this.script();
    this.bound.push(lower[1]!);
    const a = this.product();
    this.bound.pop();
    this.ws();
    const next = this.s[this.i];
    if (next === '+' || next === '-') throw UNSUPPORTED;
    return { op: kind, v: lower[1]!, from, to, a };
  }

  /** `\sin(x+1)`, or an implicit product up to the next operator: `\sin 2x` is sin(2x). */
  private functionArgument(): Expr {
    this.ws();
    if (this.s[this.i] === '(') return this.primary();
    let arg = this.power();
    while (this.startsPrimary() && !this.startsFunction()) arg = { op: 'mul', a: arg, b: this.power() };
    return arg;
  }

  private startsPrimary(): boolean {
    this.ws();
    const c = this.s[this.i];
    if (c === undefined) return false;
    if (/[\d.A-Za-z([{]/.test(c)) return true;
    if (c !== '\\') return false;
    const name = /^\\([A-Za-z]+)/.exec(this.s.slice(this.i))?.[1];
    return (
      name !== undefined &&
      (['frac', 'sqrt', 'binom', 'pi', 'log', 'sum', 'prod'].includes(name) || GREEK.has(name) || name in FUNCTIONS)
    );
  }

  private startsFunction(): boolean {
    const name = /^\\([A-Za-z]+)/.exec(this.s.slice(this.i))?.[1];
    return name !== undefined && (name === 'log' || name in FUNCTIONS);
  }

  private ws(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  private eat(c: string): boolean {
    if (this.s[this.i] !== c) return false;
    this.i++;
    return true;
  }

  private eatCommand(name: string): boolean {
    if (!this.s.startsWith(`\\${name}`, this.i) || /[A-Za-z]/.test(this.s[this.i + name.length + 1] ?? ''))
      return false;
    this.i += name.length + 1;
    return true;
  }

  private expect(c: string): void {
    if (!this.eat(c)) throw UNSUPPORTED;
  }
}
