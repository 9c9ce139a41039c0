import { EngineError } from '../errors.js';
/**
 * Key/value cache held in JavaScript, one float32 buffer per past input of the decoder, in one of
 * three layouts:
 *
 * - `batch-major` (the decoder-with-past contract): `[batch, kvHeads, length, headDim]`, exactly
 *   `length` positions; the runtime returns the whole cache every step (`present.*`).
 * - `sequence-major` (the appending contract of the bundled graph): `[capacity, batch, kvHeads,
 *   headDim]`, of which the first `length` positions are used. That prefix is contiguous, so the
 *   runtime reads it in place, and a step only writes its new positions after it (`appendKV`).
 *   Buffers grow by doubling.
 * - `sequence-head-major` (the rows' own positions in the cascade graph): the same with heads
 *   before rows, `[capacity, kvHeads, batch, headDim]`, so a head's rows are contiguous. For one
 *   row it is the same memory as `sequence-major`.
 *
 * Values are plain arrays so rows can be copied, dropped and trimmed without the runtime.
 */
export type KVLayout = 'batch-major' | 'sequence-major' | 'sequence-head-major';

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
  return {
    layout,
    batch,
    length: 0,
    heads,
    headDim,
    capacity: 0,
    data: Array.from({ length: names }, () => new Float32Array(0)),
  };
}

/** The capacity a sequence-major buffer grows to from `positions`. */
const headroom = (positions: number) => Math.max(64, 2 * positions);

/** Floats per position of one buffer (all rows). */
const positionSize = (kv: KVCache) => kv.batch * kv.heads * kv.headDim;

/** The dims and used values of buffer `i`, as the runtime reads them. */
export function kvInput(kv: KVCache, i: number): { data: Float32Array; dims: number[] } {
  if (kv.layout === 'batch-major') return { data: kv.data[i]!, dims: [kv.batch, kv.heads, kv.length, kv.headDim] };
  const data = kv.data[i]!.subarray(0, kv.length * positionSize(kv));
  if (kv.layout === 'sequence-head-major') return { data, dims: [kv.length, kv.heads, kv.batch, kv.headDim] };
  return { data, dims: [kv.length, kv.batch, kv.heads, kv.headDim] };
}

/**
 * Append `count` positions to a sequence-major (or sequence-head-major) cache, in place:
 * `added[i]` holds those positions of buffer `i` in the cache's layout. Grows the buffers
 * (doubling) when full.
 */
export function appendKV(kv: KVCache, added: readonly Float32Array[], count: number): KVCache {
  if (kv.layout === 'batch-major') throw new EngineError('appendKV: the cache is not sequence-major', 'internal');
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
    if (a.length !== count * size)
      throw new EngineError(`appendKV: buffer ${i} has ${a.length} values, expected ${count * size}`, 'internal');
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
  // Room to decode on without growing at once.
  const capacity = headroom(kv.length);
  const data = kv.data.map((src) => {
    const out = new Float32Array(capacity * rows.length * kv.heads * kv.headDim);
    moveRows(kv, src, out, rows);
    return out;
  });
  return { ...kv, batch: rows.length, capacity, data };
}

/**
 * Keep only the given rows (ascending), in place: for the rows of a batch that leave it. No
 * buffer is allocated, and positions are moved in runs of consecutive rows.
 */
export function keepRows(kv: KVCache, rows: readonly number[]): KVCache {
  if (kv.layout === 'batch-major') return selectRows(kv, rows);
  if (rows.some((r, i) => r >= kv.batch || (i > 0 && r <= rows[i - 1]!)))
    throw new EngineError('keepRows: rows must be ascending and within the batch', 'internal');
  for (const buffer of kv.data) moveRows(kv, buffer, buffer, rows);
  const kept = { ...kv, batch: rows.length };
  // Fewer rows per position: the same buffers hold more positions.
  return {
    ...kept,
    capacity: rows.length === 0 ? kv.capacity : Math.floor((kv.data[0]?.length ?? 0) / positionSize(kept)),
  };
}

/**
 * Copy rows `rows` of every used position of `src` (a sequence-major or sequence-head-major
 * buffer of `kv`'s shape) to `out`, packed as a batch of `rows.length`. `out` may be `src` when the
 * rows ascend (each value moves to a lower or equal offset, in order).
 */
function moveRows(kv: KVCache, src: Float32Array, out: Float32Array, rows: readonly number[]): void {
  const d = kv.headDim;
  // Per position, the blocks that hold one row: [batch, heads·d] or [heads, batch, d].
  const groups = kv.layout === 'sequence-head-major' ? kv.heads : 1;
  const block = kv.layout === 'sequence-head-major' ? d : kv.heads * d;
  const runs: [from: number, to: number, length: number][] = [];
  rows.forEach((r, i) => {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[2] === r && last[1] + last[2] === i) last[2]++;
    else runs.push([r, i, 1]);
  });
  const inGroup = kv.batch * block;
  const outGroup = rows.length * block;
  for (let p = 0; p < kv.length; p++) {
    for (let g = 0; g < groups; g++) {
      const a = (p * groups + g) * inGroup;
      const b = (p * groups + g) * outGroup;
      for (const [from, to, length] of runs) {
        if (out === src) out.copyWithin(b + to * block, a + from * block, a + (from + length) * block);
        else out.set(src.subarray(a + from * block, a + (from + length) * block), b + to * block);
      }
    }
  }
}

/** A copy of the first `length` positions of a batch-1 cache (for reusing a shared prefix). */
export function truncate(kv: KVCache, length: number): KVCache {
  if (kv.batch !== 1) throw new EngineError('truncate expects a batch of one', 'internal');
  const n = Math.min(length, kv.length);
  if (kv.layout !== 'batch-major') {
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
