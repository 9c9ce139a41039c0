import { describe, expect, it } from 'vitest';
import { createSampler, GREEDY_BELOW } from '../../src/engine/sampling.js';
import { createRng } from '../../src/internal/random.js';

describe('temperature', () => {
  it('below 1e-5 samples greedily, even at 1e-308 (logits / t would overflow)', () => {
    const rng = createRng(3);
    for (let trial = 0; trial < 200; trial++) {
      const logits = Float32Array.from({ length: 110 }, () => rng.next() * 40 - 20);
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
    for (const temperature of [-1, -1e-9, NaN, Infinity])
      expect(() => createSampler({ temperature })).toThrow(/temperature must be/);
    for (const topP of [0, -0.5, 1.5, NaN])
      expect(() => createSampler({ temperature: 1, topP })).toThrow(/topP must be/);
  });
});

describe('top-p', () => {
  // Softmax at temperature 1 of log-probabilities is the probabilities themselves: 0.6, 0.3, 0.1.
  const logits = Float32Array.from([0.6, 0.3, 0.1], Math.log);
  const counts = (topP: number, draws = 3000) => {
    const sample = createSampler({ temperature: 1, topP, seed: 17 });
    const n = [0, 0, 0];
    for (let i = 0; i < draws; i++) n[sample(logits, 0, 3)]!++;
    return n;
  };

  it('keeps the smallest set of top tokens whose mass reaches top-p, and samples within it', () => {
    // 0.5: the top token alone reaches it.
    expect(counts(0.5)).toEqual([3000, 0, 0]);
    // 0.8: the top two (0.9) are kept, renormalized to 2/3 and 1/3; the 0.1 token is never drawn.
    const [a, b, c] = counts(0.8);
    expect(c).toBe(0);
    expect(a! / 3000).toBeGreaterThan(0.62);
    expect(a! / 3000).toBeLessThan(0.71);
    expect(a! + b!).toBe(3000);
  });

  it('at 1 every token can be drawn, in proportion', () => {
    const [a, b, c] = counts(1);
    expect(c! / 3000).toBeGreaterThan(0.07);
    expect(c! / 3000).toBeLessThan(0.13);
    expect(a! + b! + c!).toBe(3000);
  });
});

describe('top-k and min-p', () => {
  // Probabilities 0.5, 0.25, 0.15, 0.1 at temperature 1.
  const logits = Float32Array.from([0.5, 0.25, 0.15, 0.1], Math.log);
  const drawn = (options: { topK?: number; minP?: number; topP?: number }, draws = 4000) => {
    const sample = createSampler({ temperature: 1, seed: 5, ...options });
    const n = [0, 0, 0, 0];
    for (let i = 0; i < draws; i++) n[sample(logits, 0, 4)]!++;
    return n;
  };

  it('top-k keeps the k likeliest tokens, renormalized; -1 and 0 keep all', () => {
    const [a, b, c, d] = drawn({ topK: 2 });
    expect(a! + b!).toBe(4000);
    expect([c, d]).toEqual([0, 0]);
    expect(a! / 4000).toBeGreaterThan(0.62); // 2/3 of the draws
    expect(a! / 4000).toBeLessThan(0.71);
    expect(drawn({ topK: 1 })).toEqual([4000, 0, 0, 0]);
    for (const topK of [-1, 0, 4, 50]) expect(drawn({ topK }).every((n) => n > 0)).toBe(true);
  });

  it('min-p drops tokens below min-p × the top probability (0.29 × 0.5 keeps 0.15, 0.31 × 0.5 drops it)', () => {
    const kept = drawn({ minP: 0.29 });
    expect(kept[3]).toBe(0);
    expect(kept.slice(0, 3).every((n) => n > 0)).toBe(true);
    expect(drawn({ minP: 0.31 }).slice(2)).toEqual([0, 0]);
    expect(drawn({ minP: 1 })).toEqual([4000, 0, 0, 0]);
  });

  it('applies top-p to what top-k leaves: top-k 3 (0.9 renormalized) then top-p 0.8 keeps two', () => {
    // After top-k 3: 0.556, 0.278, 0.167; the first two reach 0.83 ≥ 0.8.
    expect(drawn({ topK: 3, topP: 0.8 }).slice(2)).toEqual([0, 0]);
  });

  it('greedy ignores them; bad values are refused', () => {
    expect(createSampler({ temperature: 0, topK: 3, minP: 0.5 })(logits, 0, 4)).toBe(0);
    expect(() => createSampler({ temperature: 1, topK: -2 })).toThrow(/topK must be/);
    expect(() => createSampler({ temperature: 1, topK: 1.5 })).toThrow(/topK must be/);
    expect(() => createSampler({ temperature: 1, minP: 1.5 })).toThrow(/minP must be/);
  });
});
