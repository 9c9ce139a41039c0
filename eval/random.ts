/**
 * A small seeded PRNG for the eval harness. It is our own generator (mulberry32 over a
 * splitmix-style seed hash), so it does not reproduce Python's `random` stream: the same seed
 * gives the same problems here, but not the problems `tasks.py` would give for that seed.
 */

/** A source of uniform numbers with the few helpers the generators need. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi], both ends included (Python's `randint`). */
  int(lo: number, hi: number): number;
  /** One element, uniformly. */
  choice<T>(items: readonly T[]): T;
  /** `k` distinct elements in selection order (Python's `random.sample`). */
  sample<T>(items: readonly T[], k: number): T[];
}

/** Hash any number of integers into one unsigned 31-bit seed (order matters). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    // Fold in the high bits too, so seeds above 2^32 are not silently aliased.
    h = (h + Math.floor(p / 0x100000000)) >>> 0;
  }
  return h & 0x7fffffff;
}

export function createRng(seed: number): Rng {
  let state = mixSeed(seed) | 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    next,
    int,
    choice: (items) => {
      if (items.length === 0) throw new Error('choice from an empty list');
      return items[int(0, items.length - 1)] as (typeof items)[number];
    },
    sample: (items, k) => {
      if (k > items.length) throw new Error(`cannot sample ${k} of ${items.length} items`);
      const pool = [...items];
      const out = [];
      for (let i = 0; i < k; i++) {
        const j = int(i, pool.length - 1);
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
        out.push(pool[i]!);
      }
      return out;
    },
  };
}
