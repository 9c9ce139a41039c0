/**
 * The ancestor-only attention of a trie layout: token i attends to j exactly when j is i or one
 * of its trie ancestors. Compact form: depth-first enter/exit stamps, so that j is an ancestor
 * of i (or i itself) iff enter[j] ≤ enter[i] ≤ exit[j].
 */
export interface AncestorIntervals {
  /** Pre-order index of each token in a depth-first walk (children in flat order). */
  enter: number[];
  /** The largest pre-order index in the token's subtree. */
  exit: number[];
}

/** Compute enter/exit stamps from parent pointers (each parent must precede its child). */
export function ancestorIntervals(parent: readonly number[]): AncestorIntervals {
  const n = parent.length;
  const children: number[][] = Array.from({ length: n }, () => []);
  const roots: number[] = [];
  for (const [i, p] of parent.entries()) {
    if (!Number.isInteger(p) || p < -1 || p >= i) {
      throw new RangeError(`parent[${i}] = ${p}: a parent must be −1 or an earlier index`);
    }
    (p < 0 ? roots : children[p]!).push(i);
  }
  const enter = new Array<number>(n).fill(0);
  const exit = new Array<number>(n).fill(0);
  let clock = 0;
  // Iterative walk: trajectories are thousands of tokens deep, too deep for recursion.
  const stack: { node: number; next: number }[] = [];
  for (const root of roots) {
    enter[root] = clock++;
    stack.push({ node: root, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const kids = children[top.node]!;
      if (top.next < kids.length) {
        const child = kids[top.next++]!;
        enter[child] = clock++;
        stack.push({ node: child, next: 0 });
      } else {
        exit[top.node] = clock - 1;
        stack.pop();
      }
    }
  }
  return { enter, exit };
}

/** May `query` attend to `key`? */
export function canAttend(intervals: AncestorIntervals, query: number, key: number): boolean {
  const at = intervals.enter[query]!;
  return intervals.enter[key]! <= at && at <= intervals.exit[key]!;
}

/** The dense mask: row i has a 1 at every key token i may attend to. O(n²) memory. */
export function denseMask(layout: { parent: readonly number[] }): Uint8Array[] {
  const { parent } = layout;
  return parent.map((_, i) => {
    const row = new Uint8Array(parent.length);
    for (let j = i; j >= 0;) {
      row[j] = 1;
      const up = parent[j]!;
      if (up >= j) throw new RangeError(`parent[${j}] = ${up}: a parent must be −1 or an earlier index`);
      j = up;
    }
    return row;
  });
}
