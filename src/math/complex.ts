/** Complex arithmetic on doubles, just enough to evaluate answer expressions at sample points. */

export interface Complex {
  re: number;
  im: number;
}

export const complex = (re: number, im = 0): Complex => ({ re, im });

export const add = (a: Complex, b: Complex): Complex => complex(a.re + b.re, a.im + b.im);
export const sub = (a: Complex, b: Complex): Complex => complex(a.re - b.re, a.im - b.im);
export const neg = (a: Complex): Complex => complex(-a.re, -a.im);
export const mul = (a: Complex, b: Complex): Complex => complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);

export function div(a: Complex, b: Complex): Complex {
  if (b.im === 0) return complex(a.re / b.re, a.im / b.re);
  const d = b.re * b.re + b.im * b.im;
  return complex((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}

export const abs = (a: Complex): number => Math.hypot(a.re, a.im);

export function exp(a: Complex): Complex {
  const r = Math.exp(a.re);
  return a.im === 0 ? complex(r) : complex(r * Math.cos(a.im), r * Math.sin(a.im));
}

/** Principal logarithm. */
export function log(a: Complex): Complex {
  if (a.im === 0 && a.re > 0) return complex(Math.log(a.re));
  return complex(Math.log(abs(a)), Math.atan2(a.im, a.re));
}

/** Principal power; real bases with integer exponents stay exact doubles. */
export function pow(a: Complex, b: Complex): Complex {
  if (a.im === 0 && b.im === 0 && (a.re >= 0 || Number.isInteger(b.re))) return complex(Math.pow(a.re, b.re));
  if (a.re === 0 && a.im === 0) return complex(b.re > 0 ? 0 : NaN);
  return exp(mul(b, log(a)));
}

/** Principal square root, computed directly so `sqrt(-4)` is exactly `2i`. */
export function sqrt(a: Complex): Complex {
  if (a.im === 0) return a.re >= 0 ? complex(Math.sqrt(a.re)) : complex(0, Math.sqrt(-a.re));
  const r = abs(a);
  const re = Math.sqrt((r + a.re) / 2);
  return complex(re, a.im / (2 * re));
}

/** |x - y| <= relTol * max(|x|, |y|), with an absolute floor for values that are both ~0. */
export function close(x: Complex, y: Complex, relTol: number): boolean {
  const diff = Math.hypot(x.re - y.re, x.im - y.im);
  return diff <= relTol * Math.max(abs(x), abs(y)) || diff < 1e-12;
}
