import { ThreadweaverError } from '../errors.js';
/**
 * The package's one seeded random generator and its one rule for derived seeds. Every stream
 * (a token sampler, a dataset subset, the arith generator, bootstrap resampling) comes from
 * `createRng(seed)`; every seed made from another (a call's, a thread's, a sibling's, a choice's,
 * a sample's) comes from `deriveSeed(base, ...keys)`, never from arithmetic on the base (`seed + i`
 * collides across bases and leaves the safe-integer range).
 */

const MASK64 = (1n << 64n) - 1n;

/** One SplitMix64 step: the next state and its mixed output. */
function splitmix64(state: bigint): [next: bigint, out: bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

/**
 * The seed as 64 bits: a safe integer (|seed| < 2^53) in two's complement. Anything else is an
 * error rather than a silent truncation, so two different seeds never name the same stream.
 */
function seedBits(seed: number): bigint {
  if (!Number.isSafeInteger(seed))
    throw new RangeError(`seed must be an integer between -(2^53 - 1) and 2^53 - 1, got ${seed}`);
  return BigInt.asUintN(64, BigInt(seed));
}

/** A source of uniform numbers with the few helpers the generators need (functions that may be passed on alone). */
export interface Rng {
  /** Uniform in [0, 1). */
  next: () => number;
  /** Uniform integer in [lo, hi], both ends included (Python's `randint`). */
  int: (lo: number, hi: number) => number;
  /** One element, uniformly. */
  choice: <T>(items: readonly T[]) => T;
  /** `k` distinct elements in selection order (Python's `random.sample`). */
  sample: <T>(items: readonly T[], k: number) => T[];
}

/**
 * A seeded generator: xoshiro128** whose 128-bit state is SplitMix64 of the seed's 64 bits, so
 * every bit of the seed changes the stream (0 and 2^32 are different seeds). Its own stream: it
 * does not reproduce Python's `random` (the same seed does not give a Python recipe's problems).
 */
export function createRng(seed: number): Rng {
  let state = seedBits(seed);
  const words: number[] = [];
  for (let i = 0; i < 2; i++) {
    const [next, out] = splitmix64(state);
    state = next;
    words.push(Number(out & 0xffffffffn), Number(out >> 32n));
  }
  let [a, b, c, d] = words as [number, number, number, number];
  if ((a | b | c | d) === 0) a = 1; // the one state xoshiro cannot leave
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    choice: (items) => {
      if (items.length === 0) throw new ThreadweaverError('choice from an empty list');
      return items[int(0, items.length - 1)] as (typeof items)[number];
    },
    sample: (items, k) => {
      if (k > items.length) throw new ThreadweaverError(`cannot sample ${k} of ${items.length} items`);
      const pool = [...items];
      const out = [];
      for (let i = 0; i < k; i++) {
        const j = int(i, pool.length - 1);
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
        out.push(pool[i]!);
      }
      return out;
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * An independent seed for a derived stream of `seed`: `deriveSeed(seed, k)` for the k-th (a call,
 * a thread, a sibling, a choice), `deriveSeed(seed, i, j)` for a path of keys (problem i, sample j;
 * the same as deriving twice). SplitMix64 of the seed's 64 bits and each key, cut to a
 * non-negative safe integer: deterministic, every bit of `seed` matters, and the result is again a
 * valid seed. Keys are whole numbers ≥ 0.
 */
export function deriveSeed(seed: number, ...keys: number[]): number {
  let derived = seed;
  for (const k of keys) {
    if (!(Number.isSafeInteger(k) && k >= 0)) throw new RangeError(`a seed key must be a whole number ≥ 0, got ${k}`);
    const [, once] = splitmix64(seedBits(derived) ^ ((BigInt(k) * 0xd1b54a32d192ed03n) & MASK64));
    const [, twice] = splitmix64(once);
    derived = Number(twice >> 11n);
  }
  seedBits(derived); // a bad seed is refused even with no keys
  return derived;
}

/** A fresh seed for a run that was given none (a valid seed, so it can be recorded and replayed). */
export function randomSeed(): number {
  return Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
}
