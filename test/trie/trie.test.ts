import { beforeAll, describe, expect, it } from 'vitest';
import { threadPrompt, TAG } from '../../src/format/tags.js';
import { flattenTrie, type TrieLayout } from '../../src/trie/flatten.js';
import { ancestorIntervals, canAttend, denseMask } from '../../src/trie/mask.js';
import { sftLayout, sftTrie, type TokenEncoder } from '../../src/trie/sft.js';
import { TokenTrie, trieFromCalls, type TrieCall } from '../../src/trie/trie.js';
import { bundledEncoder, readVectors, vendoredTrieVectors } from '../support/trie-fixtures.js';

let encoder: TokenEncoder;
beforeAll(async () => {
  encoder = await bundledEncoder();
});
const vectors = readVectors(vendoredTrieVectors);

/** Token ids from the root down to token i. */
function rootPath(layout: TrieLayout, i: number): number[] {
  const path: number[] = [];
  for (let j = i; j >= 0; j = layout.parent[j]!) path.unshift(layout.ids[j]!);
  return path;
}

function indicesWhere(values: readonly number[], keep: (v: number) => boolean): number[] {
  return values.flatMap((v, i) => (keep(v) ? [i] : []));
}

describe('TokenTrie', () => {
  it('merges shared prefixes and records parent and depth', () => {
    const trie = new TokenTrie();
    trie.insert([1, 2, 3]);
    trie.insert([1, 2, 4]);
    trie.insert([1, 5]);
    expect(trie.nodes.map((n) => n.token)).toEqual([1, 2, 3, 4, 5]);
    expect(trie.nodes.map((n) => n.depth)).toEqual([0, 1, 2, 2, 1]);
    expect(trie.nodes.map((n) => n.parent?.token)).toEqual([undefined, 1, 2, 2, 1]);
    expect(trie.roots).toHaveLength(1);
    expect(trie.nodes[1]!.children.map((c) => c.token)).toEqual([3, 4]);
  });

  it('shareAtMost forces fresh nodes after the shared part, and merging keeps following the first child', () => {
    const trie = new TokenTrie();
    trie.insert([1, 2, 3]);
    const copy = trie.insert([1, 2, 3], { shareAtMost: 1 });
    expect(trie.nodes).toHaveLength(5);
    expect(copy[0]).toBe(trie.nodes[0]);
    expect(copy[1]).not.toBe(trie.nodes[1]);
    expect(trie.insert([1, 2, 3])).toEqual(trie.nodes.slice(0, 3));
  });

  it('a node is trained when any path through it trains it', () => {
    const trie = new TokenTrie();
    trie.insert([1, 2, 3], { lossFrom: 2 });
    expect(trie.nodes.map((n) => n.loss)).toEqual([false, false, true]);
    trie.insert([1, 2, 4], { lossFrom: 1 });
    expect(trie.nodes.map((n) => n.loss)).toEqual([false, true, true, true]);
  });
});

describe('flattenTrie', () => {
  // A main path with a shallow fork (9 after [1,2]) inserted before a deep one (7 after [1,2,3,4]).
  const trie = new TokenTrie();
  trie.insert([1, 2, 3, 4, 5]);
  trie.insert([1, 2, 9]);
  trie.insert([1, 2, 3, 4, 7]);

  it('depth-first: the first path whole, then the deepest fork first', () => {
    expect(flattenTrie(trie)).toEqual({
      ids: [1, 2, 3, 4, 5, 7, 9],
      parent: [-1, 0, 1, 2, 3, 3, 1],
      position: [0, 1, 2, 3, 4, 4, 2],
      branch: [0, 0, 0, 0, 0, 1, 2],
      loss: [0, 1, 1, 1, 1, 1, 1],
    });
  });

  it('insertion: branches in the order they were inserted', () => {
    expect(flattenTrie(trie, 'insertion')).toEqual({
      ids: [1, 2, 3, 4, 5, 9, 7],
      parent: [-1, 0, 1, 2, 3, 1, 3],
      position: [0, 1, 2, 3, 4, 2, 4],
      branch: [0, 0, 0, 0, 0, 1, 2],
      loss: [0, 1, 1, 1, 1, 1, 1],
    });
  });

  it('a branch keeps its id along its path and a second root opens a branch', () => {
    const t = new TokenTrie();
    t.insert([1, 2]);
    t.insert([1, 3, 4, 5]);
    t.insert([6, 7]);
    expect(flattenTrie(t).branch).toEqual([0, 0, 1, 1, 1, 2, 2]);
  });
});

describe('ancestor mask', () => {
  // Deterministic pseudo-random tries: many short paths over a 3-token alphabet fork often.
  function randomTrie(seed: number): TokenTrie {
    let s = seed;
    const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const trie = new TokenTrie();
    for (let p = 0; p < 12; p++) {
      trie.insert(Array.from({ length: 1 + Math.floor(next() * 8) }, () => Math.floor(next() * 3)));
    }
    return trie;
  }

  it.each([1, 2, 3, 4])('compact intervals agree with the dense mask and with parent chains (seed %i)', (seed) => {
    for (const order of ['depth-first', 'insertion'] as const) {
      const layout = flattenTrie(randomTrie(seed), order);
      const intervals = ancestorIntervals(layout.parent);
      const dense = denseMask(layout);
      const n = layout.ids.length;
      for (let i = 0; i < n; i++) {
        const ancestors = new Set<number>();
        for (let j = i; j >= 0; j = layout.parent[j]!) ancestors.add(j);
        for (let j = 0; j < n; j++) {
          expect(dense[i]![j]).toBe(ancestors.has(j) ? 1 : 0);
          expect(canAttend(intervals, i, j)).toBe(ancestors.has(j));
        }
        expect(layout.position[i]).toBe(ancestors.size - 1);
      }
      if (order === 'depth-first') expect(intervals.enter).toEqual([...Array(n).keys()]);
    }
  });

  it('rejects a parent that does not precede its child', () => {
    expect(() => ancestorIntervals([-1, 2, 0])).toThrow(/parent\[1\] = 2/);
    expect(() => denseMask({ parent: [-1, 1] })).toThrow(/parent\[1\] = 1/);
  });

  it.each(vectors.map((v, i) => [i, v] as const))(
    'vector %i: main path sees its prefix, threads never see siblings',
    (_, v) => {
      const layout = sftLayout(v, encoder);
      const dense = denseMask(layout);
      const mainLength = layout.branch.filter((b) => b === 0).length;
      for (let i = 0; i < mainLength; i++) {
        expect([...dense[i]!].map((x, j) => (x ? j : -1)).filter((j) => j >= 0)).toEqual([...Array(i + 1).keys()]);
      }
      const threadClose = encoder.encode(TAG.threadClose)[0]!;
      const outlinesClose = encoder.encode(TAG.outlinesClose)[0]!;
      const anchor = layout.ids.indexOf(outlinesClose);
      const firstThreadEnd = layout.ids.indexOf(threadClose);
      for (const b of new Set(layout.branch.filter((x) => x > 0))) {
        const own = indicesWhere(layout.branch, (x) => x === b);
        for (const i of own) {
          const seen = indicesWhere([...dense[i]!], (x) => x === 1);
          // Only the shared context up to </Outlines> and the branch's own earlier tokens.
          expect(seen.every((j) => j <= anchor || (own.includes(j) && j <= i))).toBe(true);
          expect(dense[i]![firstThreadEnd]).toBe(0);
        }
      }
    },
  );
});

/** Split a joined trajectory into the calls the orchestrator would make for it. */
function orchestratorCalls(prompt: string, completion: string, encode: (s: string) => number[]): TrieCall[] {
  const calls: TrieCall[] = [];
  let context = prompt;
  let rest = completion;
  const block = new RegExp(
    `^([\\s\\S]*?${TAG.outlinesClose})\\n((?:${TAG.threadOpen}\\n\\d+:[\\s\\S]*?${TAG.threadClose})+)\\n`,
  );
  for (let m = block.exec(rest); m; m = block.exec(rest)) {
    const [whole, upToFork, threads] = m as unknown as [string, string, string];
    calls.push({ contextIds: encode(context), completionIds: encode(upToFork) });
    const forkContext = context + upToFork;
    for (const t of threads.matchAll(new RegExp(`${TAG.threadOpen}\\n(\\d+):([\\s\\S]*?${TAG.threadClose})`, 'g'))) {
      calls.push({ contextIds: encode(forkContext + threadPrompt(t[1]!)), completionIds: encode(t[2]!) });
    }
    context += whole;
    rest = rest.slice(whole.length);
  }
  calls.push({ contextIds: encode(context), completionIds: encode(rest) });
  return calls;
}

describe('trie from orchestrator calls', () => {
  const parallel = vectors.filter((v) => v.completion.includes(TAG.parallelOpen));

  it.each(parallel.map((v, i) => [i, v] as const))('vector %i: same branch structure as the SFT layout', (_, v) => {
    const sft = sftLayout(v, encoder);
    const calls = orchestratorCalls(v.prompt, v.completion, (s) => encoder.encode(s));
    const threads = calls.length - 2;
    expect(threads).toBeGreaterThanOrEqual(2);
    const layout = flattenTrie(trieFromCalls(calls));

    // The main path is the joined trajectory in both.
    const main = indicesWhere(layout.branch, (b) => b === 0);
    expect(main.map((i) => layout.ids[i])).toEqual(sft.ids.slice(0, main.length));
    expect(main.length).toBe(sft.branch.filter((b) => b === 0).length);
    // Same branches, merged from the thread number on instead of from </Outlines>.
    expect(new Set(layout.branch).size).toBe(new Set(sft.branch).size);
    expect(new Set(layout.branch).size).toBe(threads);
    const paths = (l: TrieLayout) => new Set(l.ids.map((_, i) => rootPath(l, i).join(',')));
    expect(paths(layout)).toEqual(paths(sft));
    const colon = encoder.encode(':')[0]!;
    for (let i = main.length; i < layout.ids.length; i++) {
      if (layout.branch[i] !== layout.branch[i - 1]) expect(layout.ids[i + 1]).toBe(colon);
    }
    // RL-style loss: only what some call generated is trained. Untrained: the orchestrator's
    // headers and separators (`n:` in each branch too), and the main-path copies of threads
    // 2..k (their calls hang off the shared header, so the main path only saw them as context).
    const untrained = layout.loss.slice(v.prompt_tokens).filter((x) => x === 0).length;
    const threadTexts = [...v.completion.matchAll(/<Thread>\n\d+:[\s\S]*?<\/Thread>/g)].map((m) => m[0]);
    const firstHeader = encoder.encode(/^<Thread>\n\d+:/.exec(threadTexts[0]!)![0]).length;
    const siblings = threadTexts.slice(1).reduce((sum, t) => sum + encoder.encode(t).length, 0);
    const branchNumbers = threadTexts.slice(1).reduce((sum, t) => sum + encoder.encode(/\d+:/.exec(t)![0]).length, 0);
    expect(untrained).toBe(1 + firstHeader + siblings + 1 + branchNumbers);
  });
});

describe('sftTrie edge cases', () => {
  const prompt = '<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n';
  const block = (threads: string[]) =>
    `<Parallel>\n<Outlines>\n${threads.map((_, i) => `<Outline>${i + 1}: o</Outline>\n`).join('')}</Outlines>\n` +
    threads.map((t, i) => `<Thread>\n${i + 1}:${t}</Thread>`).join('') +
    `\n</Parallel>\n`;

  it('two blocks: branches follow in order of appearance, each off its own </Outlines>', () => {
    const completion = `<think>\n${block([' a', ' bb'])}mid\n${block([' c', ' dd', ' e'])}</think>\nx<|im_end|>`;
    const layout = sftLayout({ prompt, completion }, encoder);
    const outlinesClose = encoder.encode(TAG.outlinesClose)[0]!;
    const anchors = indicesWhere(layout.ids, (t) => t === outlinesClose);
    expect(anchors).toHaveLength(2);
    const starts = indicesWhere(layout.branch, (b) => b > 0).filter((i) => layout.branch[i - 1] !== layout.branch[i]);
    expect(starts.map((i) => layout.parent[i])).toEqual([anchors[0], anchors[1], anchors[1]]);
    expect(starts.map((i) => layout.branch[i])).toEqual([1, 2, 3]);
    const text = (b: number) => indicesWhere(layout.branch, (x) => x === b).map((i) => layout.ids[i]);
    expect(text(1)).toEqual(encoder.encode('\n<Thread>\n2: bb</Thread>'));
    expect(text(3)).toEqual(encoder.encode('\n<Thread>\n3: e</Thread>'));
    // Header untrained, body trained; positions continue from the fork point.
    const b1 = indicesWhere(layout.branch, (x) => x === 1);
    expect(b1.map((i) => layout.loss[i])).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
    expect(b1.map((i) => layout.position[i])).toEqual(b1.map((_, k) => anchors[0]! + 1 + k));
    // The reference depth-first order puts the deeper (second) block's branches first.
    const dfs = flattenTrie(sftTrie({ prompt, completion }, encoder));
    const dfsStarts = indicesWhere(dfs.branch, (b) => b > 0).filter((i) => dfs.branch[i - 1] !== dfs.branch[i]);
    expect(dfsStarts.map((i) => dfs.parent[i])).toEqual([anchors[1], anchors[1], anchors[0]]);
  });

  it('does not split a block nested in a thread, nor an unterminated thread', () => {
    const nested = `<think>\n${block([` ${block([' p', ' q']).trim()}`, ' r'])}</think>\nx<|im_end|>`;
    expect(new Set(sftLayout({ prompt, completion: nested }, encoder).branch)).toEqual(new Set([0, 1]));
    const cut = `<think>\n<Parallel>\n<Outlines>\n</Outlines>\n<Thread>\n1: a</Thread><Thread>\n2: b`;
    expect(sftLayout({ prompt, completion: cut }, encoder).branch.every((b) => b === 0)).toBe(true);
  });

  it('sequential trajectories are the main path only', () => {
    const layout = sftLayout({ prompt, completion: '<think>\nstep\n</think>\nx<|im_end|>' }, encoder);
    expect(layout.parent).toEqual(layout.ids.map((_, i) => i - 1));
    expect(layout.loss.filter((x) => x === 1)).toHaveLength(layout.ids.length - encoder.encode(prompt).length);
  });

  it('errors on a thread without a number header and on multi-token tags', () => {
    const bad = `<Parallel>\n<Outlines>\n</Outlines>\n<Thread>\n1: a</Thread><Thread>\nno header</Thread>\n</Parallel>`;
    expect(() => sftLayout({ prompt, completion: bad }, encoder)).toThrow(/no "n:" header/);
    const chars: TokenEncoder = { encode: (s) => [...s].map((c) => c.charCodeAt(0)) };
    expect(() => sftLayout({ prompt, completion: bad }, chars)).toThrow(/"<Parallel>" encodes to 10 tokens/);
  });
});
