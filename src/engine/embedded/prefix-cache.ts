import { kvBytes, truncate, type KVCache } from './kv-cache.js';

interface Entry {
  scope: string | undefined;
  ids: readonly number[];
  kv: KVCache;
}

/**
 * Recently computed batch-1 caches keyed by their token ids. A new prompt reuses the longest
 * common prefix with any entry, so a thread block's context is prefilled once and the
 * continuation after a join only prefills the joined thread text. Sound only for a graph that
 * computes a prefix to the same bits however it is split (`isChunkInvariant`). Entries carry the
 * scope of the call that made them, so a finished trajectory's can be dropped; any call may
 * reuse any entry.
 */
export class PrefixCache {
  private entries: Entry[] = [];
  hitTokens = 0;

  constructor(
    private readonly maxEntries = 8,
    private readonly maxBytes = 256 * 2 ** 20,
  ) {}

  /** The cache for the longest prefix of `ids` it holds, at most `maxReuse` tokens long. */
  lookup(ids: readonly number[], maxReuse = ids.length): KVCache | undefined {
    let best: Entry | undefined;
    let bestLen = 0;
    for (const e of this.entries) {
      const n = Math.min(commonPrefix(e.ids, ids), maxReuse);
      if (n > bestLen) {
        best = e;
        bestLen = n;
      }
    }
    if (!best) return undefined;
    this.touch(best);
    this.hitTokens += bestLen;
    return truncate(best.kv, bestLen);
  }

  store(ids: readonly number[], kv: KVCache, scope?: string): void {
    if (kv.batch !== 1 || kv.length !== ids.length || ids.length === 0) return;
    // An entry the new one extends is redundant.
    this.entries = this.entries.filter(
      (e) => !(e.ids.length <= ids.length && commonPrefix(e.ids, ids) === e.ids.length),
    );
    this.entries.push({ scope, ids: [...ids], kv });
    let bytes = this.entries.reduce((s, e) => s + kvBytes(e.kv), 0);
    while (this.entries.length > this.maxEntries || (bytes > this.maxBytes && this.entries.length > 1)) {
      bytes -= kvBytes(this.entries.shift()!.kv);
    }
  }

  /** Drop every entry, or those of one scope (a finished trajectory). */
  clear(scope?: string): void {
    this.entries = scope === undefined ? [] : this.entries.filter((e) => e.scope !== scope);
  }

  private touch(e: Entry): void {
    this.entries = this.entries.filter((x) => x !== e);
    this.entries.push(e);
  }
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
