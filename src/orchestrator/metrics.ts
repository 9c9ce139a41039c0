import type { Tokenizer } from '../engine/types.js';
import { parseTrajectory } from '../format/parse.js';
import { TAG } from '../format/tags.js';
import type { TrajectoryTree } from '../format/tree.js';
import type { Trajectory } from './trajectory.js';

export interface BlockStats {
  /** In-block tokens outside thread bodies: outlines, newlines, thread wrappers. */
  overheadTokens: number;
  /** Tokens of each thread's body (number, text and final newline; not the wrappers). */
  threadTokens: number[];
}

/** The reference's parallel statistics (token-level; wrappers count for every thread). */
export interface ParallelStats {
  /** T: every token. */
  totalTokens: number;
  /** L: sequential tokens + per block its overhead and its longest thread. */
  criticalPathTokens: number;
  /** Tokens outside blocks (`<Parallel>`/`</Parallel>` included). */
  sequentialTokens: number;
  /** η = 1 − L/T (0 for a sequential trajectory). */
  acceleration: number;
  /** Share of tokens inside blocks. */
  parallelRatio: number;
  blocks: BlockStats[];
  /** Sequential tokens before each block and after the last (blocks + 1 runs, summing to sequentialTokens). */
  sequentialRuns: number[];
}

/**
 * Count T and L over `ids` (the tokens of `text`, e.g. as generated). Each token is placed by the
 * offset where its text starts. With `eos`, a final EOS token counts as sequential.
 */
export function parallelStats(text: string, ids: readonly number[], tokenizer: Tokenizer, options: { eos?: boolean; tree?: TrajectoryTree } = {}): ParallelStats {
  const tree = options.tree ?? parseTrajectory(text);
  const offsets = tokenOffsets(text, ids, tokenizer);
  // Regions in text order: [start, end, block index, thread index (-1 = block overhead)].
  const regions: [number, number, number, number][] = [];
  tree.blocks.forEach((blk, bi) => {
    let cursor = blk.start + TAG.parallelOpen.length;
    const blockEnd = blk.closed ? blk.end - TAG.parallelClose.length : blk.end;
    blk.threads.forEach((t, ti) => {
      const bodyStart = t.start + TAG.threadOpen.length;
      const bodyEnd = t.closed ? t.end - TAG.threadClose.length : t.end;
      regions.push([cursor, bodyStart, bi, -1], [bodyStart, bodyEnd, bi, ti]);
      cursor = bodyEnd;
    });
    regions.push([cursor, blockEnd, bi, -1]);
  });
  const blocks: BlockStats[] = tree.blocks.map((blk) => ({ overheadTokens: 0, threadTokens: blk.threads.map(() => 0) }));
  const runs = new Array<number>(blocks.length + 1).fill(0);
  runs[blocks.length] = options.eos ? 1 : 0;
  let sequential = options.eos ? 1 : 0;
  let r = 0;
  for (const o of offsets) {
    while (r < regions.length && regions[r]![1] <= o) r++;
    const region = regions[r];
    if (!region || o < region[0]) {
      sequential++;
      runs[region ? region[2] : blocks.length]!++;
      continue;
    }
    const blk = blocks[region[2]]!;
    if (region[3] < 0) blk.overheadTokens++;
    else blk.threadTokens[region[3]]!++;
  }
  let total = sequential;
  let critical = sequential;
  for (const blk of blocks) {
    const threads = blk.threadTokens.reduce((s, x) => s + x, 0);
    total += blk.overheadTokens + threads;
    critical += blk.overheadTokens + Math.max(0, ...blk.threadTokens);
  }
  return {
    totalTokens: total,
    criticalPathTokens: critical,
    sequentialTokens: sequential,
    acceleration: total > 0 ? 1 - critical / total : 0,
    parallelRatio: total > 0 ? (total - sequential) / total : 0,
    blocks,
    sequentialRuns: runs,
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
  for (let i = 0; i < ids.length; ) {
    let end = i + 1;
    let piece = tokenizer.decode(ids.slice(i, end));
    while (piece.includes(REPLACEMENT) && !text.startsWith(piece, at) && end < ids.length && end - i < MAX_SPLIT_TOKENS) {
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
}

/** A trajectory's own T/L: how much of its work ran side by side. Not a speedup against a sequential run. */
export function parallelWidth(m: Pick<ParallelStats, 'totalTokens' | 'criticalPathTokens'>): number {
  return m.criticalPathTokens > 0 ? m.totalTokens / m.criticalPathTokens : 1;
}

export function trajectoryMetrics(t: Trajectory, tokenizer: Tokenizer): Metrics {
  const stats = parallelStats(t.text, t.ids, tokenizer, { eos: t.eos });
  const phaseMs = { sequential: 0, parallel: 0 };
  for (const p of t.phases) phaseMs[p.kind] += p.endMs - p.startMs;
  const threadTimings: ThreadTiming[] = [];
  for (const c of t.calls) {
    if (c.role.kind === 'thread') {
      threadTimings.push({ block: c.role.block, thread: c.role.thread, tokens: c.completionIds.length, ms: c.endMs - c.startMs });
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
  };
}
