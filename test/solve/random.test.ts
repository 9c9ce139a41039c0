import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, type Rng } from '../../src/internal/random.js';

const draws = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

describe('seeds', () => {
  it('every bit of a seed matters: 0, 2^32, 2^52, -1 and 2^53 - 1 are different streams', () => {
    const seeds = [
      0,
      1,
      2 ** 32,
      2 ** 32 + 1,
      2 ** 52,
      -1,
      -(2 ** 32),
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
    ];
    const streams = seeds.map((s) => draws(createRng(s), 4).join(','));
    expect(new Set(streams).size).toBe(seeds.length);
    // One bit flipped anywhere in the 53 gives another stream.
    const flips = Array.from({ length: 53 }, (_, b) => draws(createRng(2 ** b), 2).join(','));
    expect(new Set([...flips, streams[0]]).size).toBe(54);
  });

  it('a seed reproduces its stream, which looks uniform', () => {
    expect(draws(createRng(2 ** 40 + 5), 50)).toEqual(draws(createRng(2 ** 40 + 5), 50));
    const xs = draws(createRng(12345), 20000);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    const buckets = new Array<number>(10).fill(0);
    for (const x of xs) buckets[Math.floor(x * 10)]!++;
    expect(Math.min(...buckets)).toBeGreaterThan(1800);
  });

  it('rejects seeds that are not safe integers instead of truncating them', () => {
    for (const seed of [0.5, 2 ** 53, -(2 ** 53), NaN, Infinity]) {
      expect(() => createRng(seed)).toThrow(/seed must be an integer/);
      expect(() => deriveSeed(seed, 0)).toThrow(/seed must be an integer/);
    }
  });

  it('derived seeds are safe, distinct per index, and depend on every bit of the base', () => {
    const derived = Array.from({ length: 2000 }, (_, k) => deriveSeed(7, k));
    expect(new Set(derived).size).toBe(derived.length);
    expect(derived.every((s) => Number.isSafeInteger(s) && s >= 0)).toBe(true);
    expect(deriveSeed(0, 3)).not.toBe(deriveSeed(2 ** 32, 3));
    expect(deriveSeed(2 ** 52, 3)).not.toBe(deriveSeed(0, 3));
    expect(deriveSeed(5, 1)).toBe(deriveSeed(5, 1));
  });
});

describe('derived seeds', () => {
  it('a path of keys is the same as deriving once per key, and order matters', () => {
    expect(deriveSeed(9, 4, 2)).toBe(deriveSeed(deriveSeed(9, 4), 2));
    expect(deriveSeed(9, 4, 2)).not.toBe(deriveSeed(9, 2, 4));
    expect(deriveSeed(0, 0, 1)).not.toBe(deriveSeed(0, 1, 0));
    expect(deriveSeed(9)).toBe(9);
  });

  it('stays a valid seed from the largest bases, where seed + i would not', () => {
    const top = Number.MAX_SAFE_INTEGER;
    expect(() => createRng(top + 1)).toThrow(/seed must be an integer/);
    for (const base of [top, -top, 2 ** 52 + 1]) {
      const seeds = Array.from({ length: 8 }, (_, i) => deriveSeed(base, i));
      for (const s of seeds) expect(() => createRng(s)).not.toThrow();
      expect(new Set(seeds).size).toBe(8);
    }
  });

  it('refuses keys that are not whole numbers ≥ 0', () => {
    for (const k of [-1, 0.5, NaN, 2 ** 53]) expect(() => deriveSeed(1, k)).toThrow(/seed key must be a whole number/);
  });
});

describe('generator helpers', () => {
  it('int covers both ends and sample gives distinct items', () => {
    const r = createRng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(r.int(2, 5));
    expect([...seen].sort()).toEqual([2, 3, 4, 5]);
    const s = r.sample([1, 2, 3, 4, 5, 6], 4);
    expect(new Set(s).size).toBe(4);
    expect(() => r.sample([1], 2)).toThrow(/cannot sample 2 of 1/);
    expect(() => r.choice([])).toThrow(/empty/);
  });
});
