/**
 * Key/value cache held in JavaScript, one float32 buffer per past input of the decoder, in one of
 * two layouts:
 *
 * - `batch-major` (the decoder-with-past contract): `[batch, kvHeads, length, headDim]`, exactly
 *   `length` positions; the runtime returns the whole cache every step (`present.*`).
 * - `sequence-major` (the appending contract of the bundled graph): `[capacity, batch, kvHeads,
 *   headDim]`, of which the first `length` positions are used. That prefix is contiguous, so the
 *   runtime reads it in place, and a step only writes its new positions after it (`appendKV`).
 *   Buffers grow by doubling.
 *
 * Values are plain arrays so rows can be copied, dropped and trimmed without the runtime.
 */
export type KVLayout = 'batch-major' | 'sequence-major';

export interface KVCache {
  layout: KVLayout;
  batch: number;
  length: number;
  heads: number;
  headDim: number;
  /** Positions the buffers hold room for (`length` for batch-major). */
  capacity: number;
  /** One buffer per past input, in the session's input order. */
  data: Float32Array[];
}

export function emptyKV(layout: KVLayout, names: number, heads: number, headDim: number, batch: number): KVCache {
  return { layout, batch, length: 0, heads, headDim, capacity: 0, data: Array.from({ length: names }, () => new Float32Array(0)) };
}

/** The capacity a sequence-major buffer grows to from `positions`. */
const headroom = (positions: number) => Math.max(64, 2 * positions);

/** Floats per position of one buffer (all rows). */
const positionSize = (kv: KVCache) => kv.batch * kv.heads * kv.headDim;

/** The dims and used values of buffer `i`, as the runtime reads them. */
export function kvInput(kv: KVCache, i: number): { data: Float32Array; dims: number[] } {
  if (kv.layout === 'batch-major') return { data: kv.data[i]!, dims: [kv.batch, kv.heads, kv.length, kv.headDim] };
  return { data: kv.data[i]!.subarray(0, kv.length * positionSize(kv)), dims: [kv.length, kv.batch, kv.heads, kv.headDim] };
}

/**
 * Append `count` positions to a sequence-major cache, in place: `added[i]` holds
 * `[count, batch, heads, headDim]` for buffer `i`. Grows the buffers (doubling) when full.
 */
export function appendKV(kv: KVCache, added: readonly Float32Array[], count: number): KVCache {
  if (kv.layout !== 'sequence-major') throw new Error('appendKV: the cache is not sequence-major');
  const size = positionSize(kv);
  const length = kv.length + count;
  if (length > kv.capacity) {
    const capacity = Math.max(length, headroom(kv.capacity));
    kv.data = kv.data.map((old) => {
      const grown = new Float32Array(capacity * size);
      grown.set(old.subarray(0, kv.length * size));
      return grown;
    });
    kv.capacity = capacity;
  }
  added.forEach((a, i) => {
    if (a.length !== count * size) throw new Error(`appendKV: buffer ${i} has ${a.length} values, expected ${count * size}`);
    kv.data[i]!.set(a, kv.length * size);
  });
  kv.length = length;
  return kv;
}

/** Keep only the given batch rows, in that order (a row may be repeated to fork it). A copy. */
export function selectRows(kv: KVCache, rows: readonly number[]): KVCache {
  if (kv.layout === 'batch-major') {
    const rowSize = kv.heads * kv.length * kv.headDim;
    const data = kv.data.map((src) => {
      const out = new Float32Array(rows.length * rowSize);
      rows.forEach((r, i) => out.set(src.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
      return out;
    });
    return { ...kv, batch: rows.length, data };
  }
  const rowSize = kv.heads * kv.headDim;
  const from = positionSize(kv);
  const to = rows.length * rowSize;
  // Room to decode on without growing at once.
  const capacity = headroom(kv.length);
  const data = kv.data.map((src) => {
    const out = new Float32Array(capacity * to);
    for (let p = 0; p < kv.length; p++) {
      rows.forEach((r, i) => out.set(src.subarray(p * from + r * rowSize, p * from + (r + 1) * rowSize), p * to + i * rowSize));
    }
    return out;
  });
  return { ...kv, batch: rows.length, capacity, data };
}

/** A copy of the first `length` positions of a batch-1 cache (for reusing a shared prefix). */
export function truncate(kv: KVCache, length: number): KVCache {
  if (kv.batch !== 1) throw new Error('truncate expects a batch of one');
  const n = Math.min(length, kv.length);
  if (kv.layout === 'sequence-major') {
    const size = positionSize(kv);
    return { ...kv, length: n, capacity: n, data: kv.data.map((src) => src.slice(0, n * size)) };
  }
  const data = kv.data.map((src) => {
    const out = new Float32Array(kv.heads * n * kv.headDim);
    for (let h = 0; h < kv.heads; h++) {
      const from = h * kv.length * kv.headDim;
      out.set(src.subarray(from, from + n * kv.headDim), h * n * kv.headDim);
    }
    return out;
  });
  return { ...kv, length: n, capacity: n, data };
}

/** Bytes held by a cache (for the prefix cache's budget and memory reports). */
export function kvBytes(kv: KVCache): number {
  return kv.data.reduce((s, d) => s + d.byteLength, 0);
}
