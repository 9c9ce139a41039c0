import { describe, expect, it } from 'vitest';
import { createRng, createSampler, deriveSeed, GREEDY_BELOW } from '../src/engine/sampling.js';

const draws = (next: () => number, n: number) => Array.from({ length: n }, next);

describe('temperature', () => {
  it('below 1e-5 samples greedily, even at 1e-308 (logits / t would overflow)', () => {
    const next = createRng(3);
    for (let trial = 0; trial < 200; trial++) {
      const logits = Float32Array.from({ length: 110 }, () => next() * 40 - 20);
      const best = logits.indexOf(Math.max(...logits));
      for (const temperature of [0, 1e-308, 5e-324, 1e-6, GREEDY_BELOW / 2]) {
        expect(createSampler({ temperature, seed: trial })(logits, 0, logits.length)).toBe(best);
      }
    }
  });

  it('at and above 1e-5 it samples, and a tiny temperature still picks the top logit', () => {
    const logits = Float32Array.of(0, 3, 1, 2.999);
    expect(createSampler({ temperature: GREEDY_BELOW, seed: 1 })(logits, 0, 4)).toBe(1);
    const hot = createSampler({ temperature: 50, seed: 1 });
    expect(new Set(Array.from({ length: 200 }, () => hot(logits, 0, 4))).size).toBe(4);
  });

  it('rejects negative or non-finite temperatures and top-p outside (0, 1]', () => {
    for (const temperature of [-1, -1e-9, NaN, Infinity]) expect(() => createSampler({ temperature })).toThrow(/temperature must be/);
    for (const topP of [0, -0.5, 1.5, NaN]) expect(() => createSampler({ temperature: 1, topP })).toThrow(/topP must be/);
  });
});

describe('seeds', () => {
  it('every bit of a seed matters: 0, 2^32, 2^52, -1 and 2^53 - 1 are different streams', () => {
    const seeds = [0, 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52, -1, -(2 ** 32), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
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
