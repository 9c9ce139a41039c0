/**
 * Plain numbers read exactly as rationals of bigints, so integers compare by value (`025` = `25`)
 * and big integers never lose digits. A number written with a decimal point or an exponent is
 * marked approximate: the grader compares it with a tolerance when exact equality fails.
 */

export interface ExactNumber {
  num: bigint;
  /** Always positive. */
  den: bigint;
  /** Written as a decimal or in e-notation (a measurement), not as an integer or fraction. */
  approximate: boolean;
}

const DECIMAL = /^([-+]?)(\d+(?:\.\d*)?|\.\d+)(?:e([-+]?\d+))?$/i;
// 8.7\times10^{8}, 3 \cdot 10^5
const SCIENTIFIC = /^([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?:\\times|\\cdot|\*)\s*10\s*\^\s*(?:\{\s*([-+]?\d+)\s*\}|(\d))$/;
const FRAC = /^([-+]?)\\frac\s*(\{[^{}]*\}|\d)\s*(\{[^{}]*\}|\d)$/;

/** Parse a plain number (integer, decimal, e-notation, a/b, \frac{a}{b}); null for anything else. */
export function parseNumber(text: string): ExactNumber | null {
  const s = stripParens(text.trim());
  const direct = parseDecimal(s);
  if (direct) return direct;
  const frac = FRAC.exec(s);
  if (frac) {
    const q = divide(parseDecimal(stripBraces(frac[2]!)), parseDecimal(stripBraces(frac[3]!)));
    return q && frac[1] === '-' ? { ...q, num: -q.num } : q;
  }
  const slash = s.split('/');
  if (slash.length === 2)
    return divide(parseDecimal(stripParens(slash[0]!.trim())), parseDecimal(stripParens(slash[1]!.trim())));
  return null;
}

function parseDecimal(s: string): ExactNumber | null {
  const sci = SCIENTIFIC.exec(s);
  if (sci) return parseDecimal(`${sci[1]}e${sci[2] ?? sci[3]}`);
  const m = DECIMAL.exec(s);
  if (!m) return null;
  const [intPart = '', frac = ''] = m[2]!.split('.');
  const exp = Number(m[3] ?? 0) - frac.length;
  if (Math.abs(exp) > 10_000) return null; // absurd exponents are left to the symbolic tier's guards
  let num = BigInt((intPart || '0') + frac);
  let den = 1n;
  if (exp >= 0) num *= 10n ** BigInt(exp);
  else den = 10n ** BigInt(-exp);
  if (m[1] === '-') num = -num;
  return reduce({ num, den, approximate: m[2]!.includes('.') || m[3] !== undefined });
}

// Exact rational arithmetic, used by the fast tier for constant answers (2^{100}, \binom{6}{2}).

/** Results beyond this many bits are not worth computing exactly (nor are they answers). */
const MAX_BITS = 20_000;

export function addNumbers(a: ExactNumber, b: ExactNumber): ExactNumber {
  return reduce({
    num: a.num * b.den + b.num * a.den,
    den: a.den * b.den,
    approximate: a.approximate || b.approximate,
  });
}

export function negateNumber(a: ExactNumber): ExactNumber {
  return { ...a, num: -a.num };
}

export function multiplyNumbers(a: ExactNumber, b: ExactNumber): ExactNumber {
  return reduce({ num: a.num * b.num, den: a.den * b.den, approximate: a.approximate || b.approximate });
}

export function divide(a: ExactNumber | null, b: ExactNumber | null): ExactNumber | null {
  if (!a || !b || b.num === 0n) return null;
  const sign = b.num < 0n ? -1n : 1n;
  return reduce({ num: a.num * b.den * sign, den: a.den * b.num * sign, approximate: a.approximate || b.approximate });
}

/** a^b for an integer b, or null when b is not an integer or the result would be huge. */
export function powerNumbers(a: ExactNumber, b: ExactNumber): ExactNumber | null {
  if (b.den !== 1n) return null;
  const bits = Math.max(bitLength(a.num), bitLength(a.den));
  const e = b.num < 0n ? -b.num : b.num;
  if (bits > 1 && BigInt(bits) * e > BigInt(MAX_BITS)) return null;
  if (a.num === 0n && b.num < 0n) return null;
  const p = { num: a.num ** e, den: a.den ** e, approximate: a.approximate || b.approximate };
  return b.num < 0n ? divide({ num: 1n, den: 1n, approximate: false }, p) : p;
}

/** n! for a whole n up to 1000. */
export function factorialNumber(n: ExactNumber): ExactNumber | null {
  if (n.den !== 1n || n.num < 0n || n.num > 1000n) return null;
  let r = 1n;
  for (let k = 2n; k <= n.num; k++) r *= k;
  return { num: r, den: 1n, approximate: n.approximate };
}

/** C(n, k) for whole numbers with n up to 10000. */
export function binomialNumber(n: ExactNumber, k: ExactNumber): ExactNumber | null {
  if (n.den !== 1n || k.den !== 1n || n.num < 0n || k.num < 0n || k.num > n.num || n.num > 10_000n) return null;
  const m = k.num < n.num - k.num ? k.num : n.num - k.num;
  let r = 1n;
  for (let j = 1n; j <= m; j++) r = (r * (n.num - j + 1n)) / j;
  return { num: r, den: 1n, approximate: n.approximate || k.approximate };
}

function bitLength(x: bigint): number {
  return (x < 0n ? -x : x).toString(2).length;
}

function reduce(n: ExactNumber): ExactNumber {
  const g = gcd(n.num < 0n ? -n.num : n.num, n.den);
  return g > 1n ? { ...n, num: n.num / g, den: n.den / g } : n;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function numbersEqual(a: ExactNumber, b: ExactNumber): boolean {
  return a.num === b.num && a.den === b.den;
}

/** |a - b| <= relTol * max(|a|, |b|), computed on the exact rationals. */
export function numbersClose(a: ExactNumber, b: ExactNumber, relTol: number): boolean {
  const x = a.num * b.den;
  const y = b.num * a.den;
  const diff = abs(x - y);
  const scale = abs(x) > abs(y) ? abs(x) : abs(y);
  if (scale === 0n) return true;
  return bigRatio(diff, scale) <= relTol;
}

/** a / b as a float for non-negative bigints of any size. */
function bigRatio(a: bigint, b: bigint): number {
  const shift = Math.max(a.toString(2).length, b.toString(2).length) - 900;
  if (shift > 0) {
    a >>= BigInt(shift);
    b >>= BigInt(shift);
  }
  return Number(a) / Number(b);
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

function stripBraces(s: string): string {
  return s.startsWith('{') ? s.slice(1, -1).trim() : s;
}

function stripParens(s: string): string {
  while (/^\([^()]*\)$/.test(s)) s = s.slice(1, -1).trim();
  return s;
}

/** True when LaTeX writes a measured value (a decimal point or power-of-ten notation). */
export function hasDecimal(latex: string): boolean {
  return /\d\.\d|\\times\s*10\s*\^/.test(latex);
}
