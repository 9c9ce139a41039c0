// An independent T/L counter for tests, written from the reference's description
// (threadweaver.md §4.1, get_parallel_stats): one pass over token ids with the tag ids, no text.
// Outside a block every token is sequential (<Parallel> and </Parallel> included); inside a block
// and outside threads (outlines, newlines, both thread wrappers) it is block overhead; inside a
// thread it is that thread's; an unterminated block is flushed at the end.

export interface TagIds {
  parallelOpen: number;
  parallelClose: number;
  threadOpen: number;
  threadClose: number;
}

export function referenceCounts(
  ids: readonly number[],
  tag: TagIds,
): { total: number; critical: number; blocks: number } {
  let sequential = 0;
  let total = 0;
  let critical = 0;
  let blocks = 0;
  let block: { overhead: number; threads: number[] } | null = null;
  let inThread = false;
  const flush = (): void => {
    if (!block) return;
    const sum = block.threads.reduce((s, x) => s + x, 0);
    total += block.overhead + sum;
    critical += block.overhead + Math.max(0, ...block.threads);
    blocks++;
    block = null;
    inThread = false;
  };
  for (const id of ids) {
    if (!block) {
      sequential++;
      if (id === tag.parallelOpen) block = { overhead: 0, threads: [] };
    } else if (inThread) {
      if (id === tag.threadClose) {
        block.overhead++;
        inThread = false;
      } else block.threads[block.threads.length - 1]!++;
    } else if (id === tag.parallelClose) {
      flush();
      sequential++;
    } else if (id === tag.threadOpen) {
      block.overhead++;
      block.threads.push(0);
      inThread = true;
    } else block.overhead++;
  }
  flush();
  return { total: total + sequential, critical: critical + sequential, blocks };
}
