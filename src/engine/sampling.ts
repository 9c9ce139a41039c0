import { createRng, randomSeed } from '../internal/random.js';
import type { SamplingControl, SamplingOptions } from './types.js';

// The controller derives its seeds through the engine layer.
export { deriveSeed } from '../internal/random.js';

/** Temperatures below this sample greedily (vLLM's rule): dividing logits by less overflows. */
export const GREEDY_BELOW = 1e-5;

/** Each control's value that changes nothing (what an engine without it may be given). */
export const NEUTRAL_SAMPLING: Readonly<Record<SamplingControl, readonly number[]>> = {
  topK: [-1, 0],
  minP: [0],
  repetitionPenalty: [1],
  presencePenalty: [0],
  frequencyPenalty: [0],
};

/** The sampling controls of `options` that are set to something other than their neutral value. */
export function activeControls(options: Partial<Record<SamplingControl, number | undefined>>): SamplingControl[] {
  return (Object.keys(NEUTRAL_SAMPLING) as SamplingControl[]).filter(
    (k) => options[k] !== undefined && !NEUTRAL_SAMPLING[k].includes(options[k]),
  );
}

/** The sampling controls the local sampler implements. */
export const LOCAL_SAMPLING_CONTROLS = ['topK', 'minP'] as const;

/**
 * A sampler bound to one sequence: greedy when temperature is below `GREEDY_BELOW` (or unset),
 * else temperature, then min-p, top-k and top-p on the tempered probabilities, in vLLM's
 * order. A seed names a `createRng` stream; without one, each sampler draws its own.
 */
export function createSampler(
  options: SamplingOptions,
): (logits: Float32Array, offset: number, vocab: number) => number {
  const temperature = options.temperature ?? 0;
  if (!Number.isFinite(temperature) || temperature < 0)
    throw new RangeError(`temperature must be a finite number ≥ 0, got ${temperature}`);
  const topP = options.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
  const topK = options.topK ?? -1;
  if (!(Number.isInteger(topK) && topK >= -1)) throw new RangeError(`topK must be a whole number ≥ -1, got ${topK}`);
  const minP = options.minP ?? 0;
  if (!(minP >= 0 && minP <= 1)) throw new RangeError(`minP must be in [0, 1], got ${minP}`);
  if (temperature < GREEDY_BELOW) return argmax;
  const rng = createRng(options.seed ?? randomSeed());
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
    // min-p: the largest tempered probability is exp(0) = 1 before normalizing.
    for (let i = 0; i < vocab; i++) if (minP === 0 || probs[i]! >= minP) order.push(i);
    if (minP > 0) sum = order.reduce((s, i) => s + probs[i]!, 0);
    if (topK > 0 && topK < order.length) {
      order.sort((x, y) => probs[y]! - probs[x]! || x - y);
      order = order.slice(0, topK);
      sum = order.reduce((s, i) => s + probs[i]!, 0);
    }
    if (topP < 1) {
      order.sort((x, y) => probs[y]! - probs[x]! || x - y);
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
    let r = rng.next() * sum;
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
