/**
 * A token trie: every inserted token sequence is a root-to-node path. Nodes keep the order in
 * which they were created, and children keep the order in which they were attached, so a
 * flattening is deterministic.
 */
export interface TrieNode {
  readonly token: number;
  /** undefined for a first token (a child of the implicit root). */
  readonly parent: TrieNode | undefined;
  /** 0 for a first token; equals the token's position id. */
  readonly depth: number;
  /** Creation order within the trie. */
  readonly index: number;
  readonly children: TrieNode[];
  /** True when any path through this node trains it. */
  loss: boolean;
}

/** How TokenTrie.insert marks loss and merges a path with existing nodes. */
export interface InsertOptions {
  /** Tokens at index ≥ lossFrom carry loss (default 0: the whole path). */
  lossFrom?: number;
  /**
   * Merge at most this many leading tokens with existing nodes; later tokens always get fresh
   * nodes even when an identical child exists (default: merge as far as the path matches).
   */
  shareAtMost?: number;
}

/** One engine call as an orchestrator records it: the context it saw and what it generated. */
export interface TrieCall {
  contextIds: readonly number[];
  completionIds: readonly number[];
}

/** A token trie built by inserting token paths, shared prefixes merged (see TrieNode for the order kept). */
export class TokenTrie {
  /** Children of the implicit root, in insertion order. */
  readonly roots: TrieNode[] = [];
  /** Every node, in creation order (a parent always precedes its children). */
  readonly nodes: TrieNode[] = [];
  // The first child per token: merging follows it, so fresh duplicates made by shareAtMost stay private.
  private readonly firstChild = new Map<TrieNode | undefined, Map<number, TrieNode>>();

  /** Insert `tokens` as a path; returns the path's nodes (one per token). */
  insert(tokens: readonly number[], options: InsertOptions = {}): TrieNode[] {
    const lossFrom = options.lossFrom ?? 0;
    const shareAtMost = options.shareAtMost ?? Infinity;
    const path: TrieNode[] = [];
    let parent: TrieNode | undefined;
    for (const [i, token] of tokens.entries()) {
      const existing = i < shareAtMost ? this.firstChild.get(parent)?.get(token) : undefined;
      const node = existing ?? this.attach(parent, token);
      if (i >= lossFrom) node.loss = true;
      path.push(node);
      parent = node;
    }
    return path;
  }

  private attach(parent: TrieNode | undefined, token: number): TrieNode {
    const node: TrieNode = {
      token,
      parent,
      depth: parent ? parent.depth + 1 : 0,
      index: this.nodes.length,
      children: [],
      loss: false,
    };
    this.nodes.push(node);
    (parent ? parent.children : this.roots).push(node);
    let byToken = this.firstChild.get(parent);
    if (!byToken) this.firstChild.set(parent, (byToken = new Map<number, TrieNode>()));
    if (!byToken.has(token)) byToken.set(token, node);
    return node;
  }
}

/**
 * The reference trie of a rollout: each call's context + completion is a path, shared prefixes
 * merge, and a token is trained when some call generated it.
 */
export function trieFromCalls(calls: readonly TrieCall[]): TokenTrie {
  const trie = new TokenTrie();
  for (const call of calls) {
    trie.insert([...call.contextIds, ...call.completionIds], { lossFrom: call.contextIds.length });
  }
  return trie;
}
