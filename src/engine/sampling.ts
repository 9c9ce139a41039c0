import type { SamplingOptions } from './types.js';

/** A small seeded PRNG (mulberry32): reproducible sampling per seed, independent per thread. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sampler bound to one sequence: greedy when temperature is 0, else temperature + top-p. */
export function createSampler(options: SamplingOptions): (logits: Float32Array, offset: number, vocab: number) => number {
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax;
  const topP = options.topP ?? 1;
  const rng = createRng(options.seed ?? Math.floor(Math.random() * 2 ** 32));
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
