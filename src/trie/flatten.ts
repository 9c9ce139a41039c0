import type { TokenTrie, TrieNode } from './trie.js';

/**
 * A trie laid out as one flat sequence, one entry per trie node (parallel arrays).
 *
 * Trainers must predict token i from the hidden state at `parent[i]`, not at i − 1: at a branch
 * start the flat predecessor is the end of another branch. Tokens with parent −1 have no
 * predictor and are never trained.
 */
export interface TrieLayout {
  ids: number[];
  /** Flat index of the trie parent; −1 for a first token. Always less than the token's own index. */
  parent: number[];
  /** Position id = depth in the trie (0 for the first token). */
  position: number[];
  /** 0 on the main path; a token that is not its parent's first child opens the next branch id. */
  branch: number[];
  /** 1 when the token is trained; always 0 where parent is −1 (nothing predicts it). */
  loss: (0 | 1)[];
}

/**
 * The order in which flattenTrie lays out the nodes:
 * - `depth-first`: the reference order; children in insertion order, so the first-inserted path
 *   comes out whole and branches follow, the deepest fork first.
 * - `insertion`: node creation order; branches follow in the order they were inserted.
 */
export type FlattenOrder = 'depth-first' | 'insertion';

/** Lay a trie out as one flat sequence (a TrieLayout), nodes in `order` (default depth-first, the reference order). */
export function flattenTrie(trie: TokenTrie, order: FlattenOrder = 'depth-first'): TrieLayout {
  const nodes = order === 'insertion' ? trie.nodes : depthFirst(trie);
  const flatIndex = new Map<TrieNode, number>();
  const layout: TrieLayout = { ids: [], parent: [], position: [], branch: [], loss: [] };
  let branches = 0;
  for (const [i, node] of nodes.entries()) {
    flatIndex.set(node, i);
    const parent = node.parent ? flatIndex.get(node.parent)! : -1;
    const siblings = node.parent ? node.parent.children : trie.roots;
    const continues = siblings[0] === node;
    layout.ids.push(node.token);
    layout.parent.push(parent);
    layout.position.push(node.depth);
    layout.branch.push(continues ? (parent < 0 ? 0 : layout.branch[parent]!) : ++branches);
    layout.loss.push(node.loss && parent >= 0 ? 1 : 0);
  }
  return layout;
}

function depthFirst(trie: TokenTrie): TrieNode[] {
  const out: TrieNode[] = [];
  const stack = [...trie.roots].reverse();
  for (let node = stack.pop(); node; node = stack.pop()) {
    out.push(node);
    for (let c = node.children.length - 1; c >= 0; c--) stack.push(node.children[c]!);
  }
  return out;
}
