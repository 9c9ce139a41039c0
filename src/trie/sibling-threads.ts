/** Token ids of the tags that delimit a block's threads (each tag must be one token). */
export interface ThreadTagIds {
  parallelOpen: number;
  parallelClose: number;
  outlinesClose: number;
  threadOpen: number;
  threadClose: number;
}

/** A thread that is not its block's first: at inference it runs as its own call. */
export interface SiblingThread {
  /** Index of the block's `</Outlines>`: the context every thread of the block shares. */
  anchor: number;
  /** Index of the thread's `<Thread>`. */
  open: number;
  /** Index of its matching `</Thread>`. */
  close: number;
}

/**
 * Find, in a joined trajectory, every thread after the first of each top-level block, in order
 * of appearance. Only threads after the block's `</Outlines>` count (the orchestrator forks
 * there); blocks nested inside threads are thread content and are not split; an unterminated
 * thread ends the search, since it was never completed.
 */
export function siblingThreads(ids: readonly number[], tags: ThreadTagIds): SiblingThread[] {
  const found: SiblingThread[] = [];
  let depth = 0; // <Parallel> nesting, outside threads
  let anchor: number | undefined;
  let ordinal = 0;
  for (let i = 0; i < ids.length; i++) {
    const token = ids[i];
    if (token === tags.parallelOpen) {
      if (depth++ === 0) anchor = undefined;
    } else if (token === tags.parallelClose) {
      if (depth > 0) depth--;
    } else if (depth === 1 && token === tags.outlinesClose) {
      anchor = i;
      ordinal = 0;
    } else if (depth > 0 && token === tags.threadOpen) {
      const close = matchingClose(ids, i, tags);
      if (close < 0) break;
      if (depth === 1 && anchor !== undefined && ++ordinal >= 2) found.push({ anchor, open: i, close });
      i = close;
    }
  }
  return found;
}

function matchingClose(ids: readonly number[], open: number, tags: ThreadTagIds): number {
  let nested = 0;
  for (let i = open; i < ids.length; i++) {
    if (ids[i] === tags.threadOpen) nested++;
    else if (ids[i] === tags.threadClose && --nested === 0) return i;
  }
  return -1;
}
