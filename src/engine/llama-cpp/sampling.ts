/**
 * How the llama-cpp engine picks tokens. Greedy decoding is llama.cpp's greedy sampler (the
 * first highest logit, as our argmax). Otherwise, by default (`threadweaver`), llama.cpp hands
 * over the softmax at the request's temperature of its `candidates` most likely tokens, and our
 * sampler (temperature, then top-p, a `createRng` stream per seed) picks among them: the
 * semantics of every other engine, exact when the vocabulary has no more tokens than the
 * candidates. `llama.cpp` uses its own chain (top-k, top-p, min-p, then temperature, its own
 * generator seeded from ours): cheaper at large vocabularies, other draws for the same seed.
 */
import { deriveSeed, randomSeed } from '../../internal/random.js';
import { createSampler, GREEDY_BELOW } from '../sampling.js';
import type { SamplingOptions } from '../types.js';

/** Which sampler picks the next token: ours over llama.cpp's top candidates (seeds mean the same on every engine), or llama.cpp's own chain. */
export type LlamaCppSampler = 'threadweaver' | 'llama.cpp';

/** Candidates handed over per token by default: all of a small vocabulary, the whole nucleus in practice for large ones. */
export const DEFAULT_CANDIDATES = 256;

/** llama.cpp's sampler options for one row (node-llama-cpp fills in top-k 40 and top-p 0.95 when they are left out). */
export interface RowSamplerOptions {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  seed?: number;
}

/** How one row samples: what llama.cpp is asked for, and how a token is picked from what it returns. */
export interface RowSampler {
  native: RowSamplerOptions;
  /** Whether llama.cpp must return the candidates' probabilities. */
  probabilities: boolean;
  /** The token to take: llama.cpp's own, or ours from its candidates. */
  pick(sampled: number, probabilities: ReadonlyMap<number, number> | undefined): number;
}

export function rowSampler(options: SamplingOptions, mode: LlamaCppSampler, candidates: number): RowSampler {
  const temperature = options.temperature ?? 0;
  const topP = options.topP ?? 1;
  // createSampler checks the options (and is our sampler below).
  createSampler({ ...options, temperature });
  if (temperature < GREEDY_BELOW) {
    return { native: { temperature: 0, topK: 0, topP: 1, minP: 0 }, probabilities: false, pick: (sampled) => sampled };
  }
  if (mode === 'llama.cpp') {
    // llama.cpp seeds with 32 bits: taken from a derived seed, so every bit of ours still selects the stream.
    const seed = deriveSeed(options.seed ?? randomSeed(), 0) % 2 ** 32;
    return { native: { temperature, topK: 0, topP, minP: 0, seed }, probabilities: false, pick: (sampled) => sampled };
  }
  // The candidates' probabilities are already at the temperature: our sampler runs at 1 on their logs.
  const sample = createSampler({ temperature: 1, topP, ...(options.seed !== undefined ? { seed: options.seed } : {}) });
  return {
    native: { temperature, topK: candidates, topP: 1, minP: 0 },
    probabilities: true,
    pick: (sampled, probabilities) => {
      if (!probabilities || probabilities.size === 0) return sampled;
      // In id order, as our sampler walks a full vocabulary.
      const ids = [...probabilities.keys()].sort((a, b) => a - b);
      const logits = new Float32Array(ids.length);
      ids.forEach((id, i) => (logits[i] = Math.log(probabilities.get(id)!)));
      return ids[sample(logits, 0, ids.length)]!;
    },
  };
}
