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
