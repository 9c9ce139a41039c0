import type { SamplingOptions } from './types.js';

/** Temperatures below this sample greedily (vLLM's rule): dividing logits by less overflows. */
export const GREEDY_BELOW = 1e-5;

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
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer between -(2^53 - 1) and 2^53 - 1, got ${seed}`);
  return BigInt.asUintN(64, BigInt(seed));
}

/**
 * A seeded PRNG: xoshiro128** whose 128-bit state is SplitMix64 of the seed's 64 bits, so every
 * bit of the seed changes the stream (0 and 2^32 are different seeds).
 */
export function createRng(seed: number): () => number {
  let state = seedBits(seed);
  const words: number[] = [];
  for (let i = 0; i < 2; i++) {
    const [next, out] = splitmix64(state);
    state = next;
    words.push(Number(out & 0xffffffffn), Number(out >> 32n));
  }
  let [a, b, c, d] = words as [number, number, number, number];
  if ((a | b | c | d) === 0) a = 1; // the one state xoshiro cannot leave
  return () => {
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
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * An independent seed for the `k`-th derived stream of `seed` (a call, a thread, a sibling):
 * SplitMix64 of the seed's 64 bits and k, cut to a non-negative safe integer. Deterministic, and
 * every bit of `seed` matters.
 */
export function deriveSeed(seed: number, k: number): number {
  const [, once] = splitmix64(seedBits(seed) ^ ((BigInt(k) * 0xd1b54a32d192ed03n) & MASK64));
  const [, twice] = splitmix64(once);
  return Number(twice >> 11n);
}

/**
 * A sampler bound to one sequence: greedy when temperature is below `GREEDY_BELOW` (or unset),
 * else temperature + top-p. Seeds follow `createRng`; without one, each sampler draws its own.
 */
export function createSampler(options: SamplingOptions): (logits: Float32Array, offset: number, vocab: number) => number {
  const temperature = options.temperature ?? 0;
  if (!Number.isFinite(temperature) || temperature < 0) throw new RangeError(`temperature must be a finite number ≥ 0, got ${temperature}`);
  const topP = options.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  if (temperature < GREEDY_BELOW) return argmax;
  const rng = createRng(options.seed ?? Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
  return (logits, offset, vocab) => {
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]! / temperature);
    const probs = new Float64Array(vocab);
    let sum = 0;
    for (let i = 0; i < vocab; i++) {
      const p = Math.exp(logits[offset + i]! / temperature - max);
      probs[i] = p;
      sum += p;
    }
    let order: number[] = [];
    for (let i = 0; i < vocab; i++) order.push(i);
    if (topP < 1) {
      order.sort((x, y) => probs[y]! - probs[x]!);
      let acc = 0;
      let cut = order.length;
      for (let i = 0; i < order.length; i++) {
        acc += probs[order[i]!]! / sum;
        if (acc >= topP) {
          cut = i + 1;
          break;
        }
      }
      order = order.slice(0, cut);
      sum = order.reduce((s, i) => s + probs[i]!, 0);
    }
    let r = rng() * sum;
    for (const i of order) {
      r -= probs[i]!;
      if (r <= 0) return i;
    }
    return order[order.length - 1]!;
  };
}

function argmax(logits: Float32Array, offset: number, vocab: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < vocab; i++) {
    const v = logits[offset + i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}
