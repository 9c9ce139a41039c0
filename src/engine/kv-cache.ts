/**
 * Key/value cache as the ONNX decoder-with-past contract lays it out: one float32 tensor
 * `[batch, kvHeads, length, headDim]` per `past_key_values.{layer}.{key|value}` input.
 * Values are plain arrays so rows can be copied, dropped and trimmed without the runtime.
 */
export interface KVCache {
  batch: number;
  length: number;
  heads: number;
  headDim: number;
  /** One buffer per past input, in the session's input order. */
  data: Float32Array[];
}

export function emptyKV(names: number, heads: number, headDim: number, batch: number): KVCache {
  return { batch, length: 0, heads, headDim, data: Array.from({ length: names }, () => new Float32Array(0)) };
}

/** Keep only the given batch rows, in that order (a row may be repeated to fork it). */
export function selectRows(kv: KVCache, rows: readonly number[]): KVCache {
  const rowSize = kv.heads * kv.length * kv.headDim;
  const data = kv.data.map((src) => {
    const out = new Float32Array(rows.length * rowSize);
    rows.forEach((r, i) => out.set(src.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
    return out;
  });
  return { ...kv, batch: rows.length, data };
}

/** The first `length` positions of a batch-1 cache (for reusing a shared prefix). */
export function truncate(kv: KVCache, length: number): KVCache {
  if (length >= kv.length) return kv;
  if (kv.batch !== 1) throw new Error('truncate expects a batch of one');
  const data = kv.data.map((src) => {
    const out = new Float32Array(kv.heads * length * kv.headDim);
    for (let h = 0; h < kv.heads; h++) {
      const from = h * kv.length * kv.headDim;
      out.set(src.subarray(from, from + length * kv.headDim), h * length * kv.headDim);
    }
    return out;
  });
  return { ...kv, length, data };
}

/** Bytes held by a cache (for the prefix cache's budget and memory reports). */
export function kvBytes(kv: KVCache): number {
  return kv.data.reduce((s, d) => s + d.byteLength, 0);
}
