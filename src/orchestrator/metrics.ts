import type { Tokenizer } from '../engine/types.js';
import type { Dialect, ForkBlock, ForkThread } from '../format/dialect.js';
import { threadweaver, threadweaverForkTree } from '../format/threadweaver.js';
import type { TrajectoryTree } from '../format/tree.js';
import { prefillLedger, type PrefillLedger } from './ledger.js';
import type { Trajectory } from './trajectory.js';

/** Token counts of one block for T and L: its overhead, and each thread's tokens and critical path. */
export interface BlockStats {
  /** In-block tokens outside thread bodies: plan, newlines, thread wrappers, reduce step. */
  overheadTokens: number;
  /** Tokens of each thread's body (number, text and final newline; not the wrappers), nested blocks included. */
  threadTokens: number[];
  /** Nesting depth when above 1 (a block inside a thread of another). */
  depth?: number;
  /** Each thread's critical path, when a thread holds nested blocks (else it is its token count). */
  threadCriticalTokens?: number[];
}

/** The reference's parallel statistics (token-level; wrappers count for every thread). */
export interface ParallelStats {
  /** T: every token. */
  totalTokens: number;
  /** L: sequential tokens + per block its overhead and its longest thread (a thread's own L when blocks nest). */
  criticalPathTokens: number;
  /** Tokens outside blocks (`<Parallel>`/`</Parallel>` included). */
  sequentialTokens: number;
  /** η = 1 − L/T (0 for a sequential trajectory). */
  acceleration: number;
  /** Share of tokens inside blocks. */
  parallelRatio: number;
  /** Every block, nested ones after the block holding them (the controller's numbering). */
  blocks: BlockStats[];
  /** Sequential tokens before each top-level block and after the last (top-level blocks + 1 runs, summing to sequentialTokens). */
  sequentialRuns: number[];
}

/**
 * Count T and L over `ids` (the tokens of `text`, e.g. as generated) by the format's structure
 * (default ThreadWeaver). Each token is placed by the offset where its text starts. With `eos`,
 * a final EOS token counts as sequential.
 */
export function parallelStats(
  text: string,
  ids: readonly number[],
  tokenizer: Tokenizer,
  options: { eos?: boolean; tree?: TrajectoryTree; dialect?: Dialect | undefined } = {},
): ParallelStats {
  const fork = options.tree ? threadweaverForkTree(options.tree) : (options.dialect ?? threadweaver).parse(text);
  const offsets = tokenOffsets(text, ids, tokenizer);
  const nodes: Node[] = [];
  const build = (b: ForkBlock): Node => {
    const node: Node = { block: b, overhead: 0, threads: [] };
    nodes.push(node);
    node.threads = b.threads.map((t) => ({ thread: t, own: 0, blocks: t.blocks.map(build) }));
    return node;
  };
  const top = fork.blocks.map(build);
  const runs = new Array<number>(top.length + 1).fill(0);
  runs[top.length] = options.eos ? 1 : 0;
  let sequential = options.eos ? 1 : 0;
  let r = 0;
  for (const o of offsets) {
    while (r < top.length && top[r]!.block.innerEnd <= o) r++;
    const node = top[r];
    if (!node || o < node.block.innerStart) {
      sequential++;
      runs[node ? r : top.length]!++;
      continue;
    }
    place(node, o);
  }
  let total = sequential;
  let critical = sequential;
  for (const node of top) {
    const s = measure(node);
    total += s.total;
    critical += s.critical;
  }
  return {
    totalTokens: total,
    criticalPathTokens: critical,
    sequentialTokens: sequential,
    acceleration: total > 0 ? 1 - critical / total : 0,
    parallelRatio: total > 0 ? (total - sequential) / total : 0,
    blocks: nodes.map(blockStats),
    sequentialRuns: runs,
  };
}

interface Node {
  block: ForkBlock;
  overhead: number;
  threads: { thread: ForkThread; own: number; blocks: Node[] }[];
}

/** Count a token (at offset `o`, inside the block's region) for the innermost part holding it. */
function place(node: Node, o: number): void {
  const t = node.threads.find((x) => o >= x.thread.bodyStart && o < x.thread.bodyEnd);
  if (!t) {
    node.overhead++;
    return;
  }
  const inner = t.blocks.find((n) => o >= n.block.innerStart && o < n.block.innerEnd);
  if (inner) place(inner, o);
  else t.own++;
}

/** T and L of a block: L = overhead + the longest thread's own L. */
function measure(node: Node): { total: number; critical: number } {
  let total = node.overhead;
  let longest = 0;
  for (const t of node.threads) {
    const s = threadMeasure(t);
    total += s.total;
    longest = Math.max(longest, s.critical);
  }
  return { total, critical: node.overhead + longest };
}

function threadMeasure(t: Node['threads'][number]): { total: number; critical: number } {
  let total = t.own;
  let critical = t.own;
  for (const n of t.blocks) {
    const s = measure(n);
    total += s.total;
    critical += s.critical;
  }
  return { total, critical };
}

function blockStats(node: Node): BlockStats {
  const measured = node.threads.map(threadMeasure);
  const nested = node.threads.some((t) => t.blocks.length > 0);
  return {
    overheadTokens: node.overhead,
    threadTokens: measured.map((m) => m.total),
    ...(node.block.depth > 1 ? { depth: node.block.depth } : {}),
    ...(nested ? { threadCriticalTokens: measured.map((m) => m.critical) } : {}),
  };
}

/**
 * Start offset of each token's text. Tokens are decoded one by one; a character that byte-level
 * BPE splits over several tokens (`√`, `∑`, CJK, ...) decodes whole only with all of them, so such
 * tokens are decoded as one group that starts where the character starts. When the pieces still
 * do not add up to the text, offsets are spread proportionally, which keeps T exact and L
 * approximate.
 */
export function tokenOffsets(text: string, ids: readonly number[], tokenizer: Tokenizer): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (let i = 0; i < ids.length;) {
    let end = i + 1;
    let piece = tokenizer.decode(ids.slice(i, end));
    while (
      piece.includes(REPLACEMENT) &&
      !text.startsWith(piece, at) &&
      end < ids.length &&
      end - i < MAX_SPLIT_TOKENS
    ) {
      piece = tokenizer.decode(ids.slice(i, ++end));
    }
    for (; i < end; i++) offsets.push(at);
    at += piece.length;
  }
  if (at === text.length) return offsets;
  return ids.map((_, i) => Math.floor((i * text.length) / Math.max(1, ids.length)));
}

/** What a decoder shows for bytes that are not (yet) a whole UTF-8 character. */
const REPLACEMENT = '\uFFFD';
/** Tokens one run of split characters may span before the text is taken as is. */
const MAX_SPLIT_TOKENS = 16;

export interface ThreadTiming {
  block: number;
  thread: string;
  tokens: number;
  ms: number;
}

/** Everything measured about one trajectory, derived from it (never stored apart from it). */
export interface Metrics extends ParallelStats {
  promptTokens: number;
  /** The prompt's prefill time (the first call's), when the engine reports it; else null. */
  prefillMs: number | null;
  parallelBlocks: number;
  /** Threads over all blocks. */
  threads: number;
  threadsPerBlock: number[];
  calls: number;
  wallMs: number;
  phaseMs: { sequential: number; parallel: number };
  threadTimings: ThreadTiming[];
  /** Every call's prompt tokens and the engine's or server's cached tokens, by phase (see prefillLedger). */
  prefill: PrefillLedger;
}

/** A trajectory's own T/L: how much of its work ran side by side. Not a speedup against a sequential run. */
export function parallelWidth(m: Pick<ParallelStats, 'totalTokens' | 'criticalPathTokens'>): number {
  return m.criticalPathTokens > 0 ? m.totalTokens / m.criticalPathTokens : 1;
}

/** The metrics of a trajectory, its blocks read by its format (default ThreadWeaver). */
export function trajectoryMetrics(t: Trajectory, tokenizer: Tokenizer, dialect?: Dialect): Metrics {
  const stats = parallelStats(t.text, t.ids, tokenizer, { eos: t.eos, dialect });
  const phaseMs = { sequential: 0, parallel: 0 };
  for (const p of t.phases) phaseMs[p.kind] += p.endMs - p.startMs;
  const threadTimings: ThreadTiming[] = [];
  for (const c of t.calls) {
    if (c.role.kind === 'thread') {
      threadTimings.push({
        block: c.role.block,
        thread: c.role.thread,
        tokens: c.completionIds.length,
        ms: c.endMs - c.startMs,
      });
    }
  }
  const threadsPerBlock = stats.blocks.map((b) => b.threadTokens.length);
  return {
    ...stats,
    promptTokens: t.promptIds.length,
    prefillMs: t.calls[0]?.usage.prefillMs ?? null,
    parallelBlocks: stats.blocks.length,
    threads: threadsPerBlock.reduce((s, x) => s + x, 0),
    threadsPerBlock,
    calls: t.calls.length,
    wallMs: t.endMs - t.startMs,
    phaseMs,
    threadTimings,
    prefill: prefillLedger(t),
  };
}
