import { describe, expect, it } from 'vitest';
import {
  appendKV,
  emptyKV,
  keepRows,
  kvInput,
  selectRows,
  truncate,
  type KVCache,
} from '../../src/engine/embedded/kv-cache.js';

// Two buffers (one layer's key and value), 2 heads of 3: small enough to spell out.
const HEADS = 2;
const DIM = 3;
const rowSize = HEADS * DIM;

/** The value stored for (buffer i, position p, row r, element e): distinct everywhere. */
const v = (i: number, p: number, r: number, e: number) => i * 100_000 + p * 1000 + r * 100 + e;

/** `count` new positions for rows `rows` (their ids), starting at position `from`. */
function positions(i: number, from: number, count: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(count * rows.length * rowSize);
  for (let p = 0; p < count; p++)
    rows.forEach((r, b) => {
      for (let e = 0; e < rowSize; e++) out[(p * rows.length + b) * rowSize + e] = v(i, from + p, r, e);
    });
  return out;
}

/** What a sequence-major cache holding `rows` over `length` positions must read as. */
function expected(kv: KVCache, rows: readonly number[]): Float32Array[] {
  return kv.data.map((_, i) => positions(i, 0, kv.length, rows));
}

describe('sequence-major KV cache', () => {
  it('appends in place, growing by doubling, and hands the runtime its used prefix', () => {
    const kv = emptyKV('sequence-major', 2, HEADS, DIM, 3);
    let length = 0;
    const capacities: number[] = [];
    for (const count of [5, 1, 1, 60, 1, 200]) {
      appendKV(
        kv,
        [0, 1].map((i) => positions(i, length, count, [0, 1, 2])),
        count,
      );
      length += count;
      capacities.push(kv.capacity);
      expect(kv.length).toBe(length);
      for (const i of [0, 1]) {
        const { data, dims } = kvInput(kv, i);
        expect(dims).toEqual([length, 3, HEADS, DIM]);
        expect(data).toEqual(expected(kv, [0, 1, 2])[i]);
      }
    }
    expect(capacities).toEqual([64, 64, 64, 128, 128, 268]);
    expect(() => appendKV(kv, [new Float32Array(5), new Float32Array(5)], 1)).toThrow(/has 5 values/);
  });

  it('selects, repeats and drops rows as a copy with room to grow', () => {
    const kv = emptyKV('sequence-major', 2, HEADS, DIM, 3);
    appendKV(
      kv,
      [0, 1].map((i) => positions(i, 0, 10, [0, 1, 2])),
      10,
    );
    const picked = selectRows(kv, [2, 0, 0]);
    expect(picked).toMatchObject({ batch: 3, length: 10 });
    expect(picked.capacity).toBeGreaterThan(10);
    picked.data.forEach((_, i) => expect(kvInput(picked, i).data).toEqual(expected(picked, [2, 0, 0])[i]));
    // Appending to the copy leaves the original untouched.
    appendKV(
      picked,
      [0, 1].map((i) => positions(i, 10, 1, [7, 7, 7])),
      1,
    );
    expect(kv.length).toBe(10);
    kv.data.forEach((_, i) => expect(kvInput(kv, i).data).toEqual(expected(kv, [0, 1, 2])[i]));
  });

  it('truncates a batch-1 cache to a copy', () => {
    const kv = emptyKV('sequence-major', 2, HEADS, DIM, 1);
    appendKV(
      kv,
      [0, 1].map((i) => positions(i, 0, 12, [0])),
      12,
    );
    const head = truncate(kv, 5);
    expect(head.length).toBe(5);
    head.data.forEach((_, i) => expect(kvInput(head, i).data).toEqual(positions(i, 0, 5, [0])));
    appendKV(
      head,
      [0, 1].map((i) => positions(i, 5, 1, [9])),
      1,
    );
    kv.data.forEach((_, i) => expect(kvInput(kv, i).data).toEqual(positions(i, 0, 12, [0])));
    expect(() => truncate(selectRows(kv, [0, 0]), 3)).toThrow(/batch of one/);
  });
});

/** `positions` in the sequence-head-major layout: [count, heads, rows, dim]. */
function headMajor(i: number, from: number, count: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(count * rows.length * rowSize);
  for (let p = 0; p < count; p++)
    for (let h = 0; h < HEADS; h++)
      rows.forEach((r, b) => {
        for (let e = 0; e < DIM; e++)
          out[((p * HEADS + h) * rows.length + b) * DIM + e] = v(i, from + p, r, h * DIM + e);
      });
  return out;
}

describe('rows leaving a batch (keepRows)', () => {
  it('drops rows in place, in both sequence layouts, keeping the buffers', () => {
    for (const [layout, fill] of [
      ['sequence-major', positions],
      ['sequence-head-major', headMajor],
    ] as const) {
      const kv = emptyKV(layout, 2, HEADS, DIM, 4);
      appendKV(
        kv,
        [0, 1].map((i) => fill(i, 0, 7, [0, 1, 2, 3])),
        7,
      );
      const buffers = [...kv.data];
      for (const rows of [
        [0, 1, 3],
        [1, 2],
      ] as const) {
        const before = kv.data.map((_, i) => kvInput(kv, i).data.slice());
        const kept = keepRows(kv, rows);
        expect(kept).toMatchObject({ batch: rows.length, length: 7 });
        expect(kept.data.every((d, i) => d === buffers[i])).toBe(true);
        // The same values as a copy of those rows would hold.
        const copy = selectRows({ ...kv, data: before.map((d) => d.slice()) }, rows);
        kept.data.forEach((_, i) => expect(kvInput(kept, i).data).toEqual(kvInput(copy, i).data));
        Object.assign(kv, kept);
      }
      // Rows 1 and 3 of the original four are left, and the cache still appends.
      kv.data.forEach((_, i) => expect(kvInput(kv, i).data).toEqual(fill(i, 0, 7, [1, 3])));
      expect(kv.capacity).toBeGreaterThanOrEqual(64 * 2);
      appendKV(
        kv,
        [0, 1].map((i) => fill(i, 7, 2, [1, 3])),
        2,
      );
      kv.data.forEach((_, i) => expect(kvInput(kv, i).data).toEqual(fill(i, 0, 9, [1, 3])));
      expect(() => keepRows(kv, [1, 0])).toThrow(/ascending/);
      expect(() => keepRows(kv, [2])).toThrow(/within the batch/);
    }
  });

  it('hands the runtime a sequence-head-major cache as [length, heads, rows, dim]; one row is the sequence-major memory', () => {
    const kv = emptyKV('sequence-head-major', 2, HEADS, DIM, 3);
    appendKV(
      kv,
      [0, 1].map((i) => headMajor(i, 0, 5, [0, 1, 2])),
      5,
    );
    expect(kvInput(kv, 1).dims).toEqual([5, HEADS, 3, DIM]);
    expect(kvInput(kv, 1).data).toEqual(headMajor(1, 0, 5, [0, 1, 2]));
    const one = selectRows(kv, [2]);
    expect(kvInput(one, 0).data).toEqual(positions(0, 0, 5, [2]));
    const forked = selectRows(kv, [2, 2, 0]);
    forked.data.forEach((_, i) => expect(kvInput(forked, i).data).toEqual(headMajor(i, 0, 5, [2, 2, 0])));
  });
});

describe('batch-major KV cache', () => {
  it('selects rows and truncates in the [batch, heads, length, dim] layout', () => {
    const length = 4;
    const data = [0, 1].map((i) => {
      const out = new Float32Array(2 * HEADS * length * DIM);
      for (let r = 0; r < 2; r++)
        for (let h = 0; h < HEADS; h++)
          for (let p = 0; p < length; p++)
            for (let e = 0; e < DIM; e++) {
              out[((r * HEADS + h) * length + p) * DIM + e] = v(i, p, r, h * DIM + e);
            }
      return out;
    });
    const kv: KVCache = { layout: 'batch-major', batch: 2, length, heads: HEADS, headDim: DIM, capacity: length, data };
    expect(kvInput(kv, 0).dims).toEqual([2, HEADS, length, DIM]);
    const one = selectRows(kv, [1]);
    expect(one.data[0]).toEqual(data[0]!.subarray(HEADS * length * DIM));
    const head = truncate(one, 2);
    expect(head.data[1]![0]).toBe(v(1, 0, 1, 0));
    expect(head.data[1]![2 * DIM]).toBe(v(1, 0, 1, DIM)); // second head starts after 2 positions
  });
});
