/**
 * Sibling rows as the engine forms and decodes them, for the benchmarks: on copies of the prefix
 * with the appending graph ('before'), or reading one stored copy through the cascade graph
 * ('after'). Reaches into the engine's decoders on purpose: the benchmarks time single steps.
 */
import { selectRows, type KVCache } from '../src/engine/embedded/kv-cache.js';
import { range, type OnnxDecoder } from '../src/engine/embedded/onnx-decoder.js';
import type { TransformersEngine } from '../src/engine/embedded/transformers.js';

import type { Which } from './side-by-side.js';

export { WHICH, type Which } from './side-by-side.js';
const ones = (n: number) => new Array<number>(n).fill(1);

export const decoders = (engine: TransformersEngine) =>
  engine as unknown as { decoder: OnnxDecoder; cascade: OnnxDecoder | undefined };

/**
 * Sibling rows as the engine forms them: each row's header prefilled after the prefix, on a copy
 * of the prefix's cache (before) or reading it in place (after). Returns a step function.
 */
export async function siblingRows(engine: TransformersEngine, which: Which, prefix: KVCache, rows: number) {
  const { decoder, cascade } = decoders(engine);
  const P = prefix.length;
  const shared = which === 'after' ? prefix : undefined;
  const run = which === 'after' ? cascade! : decoder;
  const header = [5, 6, 7, 8, 9];
  const masks = Array.from({ length: rows }, () => ones(shared ? header.length : P + header.length));
  let kv = shared ? run.empty(rows) : selectRows(prefix, Array(rows).fill(0));
  kv = (
    await run.forward(
      { ids: masks.map(() => header), positions: masks.map(() => range(P, P + header.length)), mask: masks },
      kv,
      shared,
    )
  ).present;
  let pos = P + header.length;
  return {
    step: async () => {
      masks.forEach((m) => m.push(1));
      kv = (
        await run.forward({ ids: masks.map(() => [30]), positions: masks.map(() => [pos]), mask: masks }, kv, shared)
      ).present;
      pos++;
    },
    drop: () => {
      kv = selectRows(kv, range(1, kv.batch));
      masks.shift();
    },
  };
}

/** The cache of a `length`-token prefix (batch 1), as a sibling call's prefix. */
export async function prefill(engine: TransformersEngine, length: number): Promise<KVCache> {
  const { decoder } = decoders(engine);
  const ids = Array.from({ length }, (_, i) => 20 + (i % 60));
  return (await decoder.forward({ ids: [ids], positions: [range(0, length)], mask: [ones(length)] }, decoder.empty(1)))
    .present;
}
