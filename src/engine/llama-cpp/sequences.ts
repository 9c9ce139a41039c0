/**
 * The context's sequences as a pool. Each keeps the KV cells of the last tokens it evaluated, so
 * the pool is also the prefix cache: a call takes the free sequences that share the longest
 * prefix with its prompt (the least recently used first among equals, whose cache is worth the
 * least), and waits in line when too few are free.
 */
import type { LlamaContextSequence } from 'node-llama-cpp';

export interface Slot {
  readonly seq: LlamaContextSequence;
  /** When a call last gave it back (for least recently used). */
  lastUsed: number;
  /** The cache scope of the call that left its tokens. */
  scope: string | undefined;
}

export class SequencePool {
  readonly size: number;
  private readonly free: Slot[];
  private readonly waiting: { n: number; tokens: readonly number[]; take: (slots: Slot[]) => void }[] = [];
  private clock = 0;

  constructor(sequences: readonly LlamaContextSequence[]) {
    this.free = sequences.map((seq) => ({ seq, lastUsed: 0, scope: undefined }));
    this.size = sequences.length;
  }

  /**
   * `n` free sequences (n ≤ size), the best for `tokens` first: the longest common prefix with
   * them, then the least recently used. Calls are served in order: a large one is not overtaken.
   */
  acquire(n: number, tokens: readonly number[]): Promise<Slot[]> {
    if (this.waiting.length === 0 && this.free.length >= n) return Promise.resolve(this.take(n, tokens));
    return new Promise((take) => this.waiting.push({ n, tokens, take }));
  }

  release(slots: readonly Slot[], scope: string | undefined): void {
    const now = ++this.clock;
    for (const slot of slots) {
      slot.lastUsed = now;
      slot.scope = scope;
      this.free.push(slot);
    }
    while (this.waiting.length > 0 && this.waiting[0]!.n <= this.free.length) {
      const next = this.waiting.shift()!;
      next.take(this.take(next.n, next.tokens));
    }
  }

  /** Free sequences last used by `scope` (for `releaseCache`), or all free ones. */
  idleOf(scope: string): Slot[] {
    return this.free.filter((s) => s.scope === scope);
  }

  idle(): readonly Slot[] {
    return [...this.free];
  }

  private take(n: number, tokens: readonly number[]): Slot[] {
    const chosen = this.free
      .map((slot) => ({ slot, common: commonPrefix(slot.seq.contextTokens, tokens) }))
      .sort((a, b) => b.common - a.common || a.slot.lastUsed - b.slot.lastUsed)
      .slice(0, n)
      .map((r) => r.slot);
    for (const slot of chosen) this.free.splice(this.free.indexOf(slot), 1);
    return chosen;
  }
}

/** How many leading tokens `a` and `b` share. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
