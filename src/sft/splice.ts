/**
 * Step 2 (deterministic): splice parallel blocks into the reasoning for the groups of step 1.
 * A block replaces the lines from its first thread's start to its last thread's end; lines in
 * that range that belong to no thread are dropped. Threads are renumbered 1..k in text order.
 */
import type { Draft, DraftBlock, DraftPiece, LineRange } from './draft.js';
import type { BlockCandidate } from './steps.js';

/** Why step 2 did not turn a group into a block. */
export type SkipReason = 'too-few-threads' | 'overlapping-threads' | 'overlaps-block' | 'too-little-parallel-text';

/** A group step 2 did not turn into a block, and why. */
export interface SkippedBlock {
  group: number;
  reason: SkipReason;
  detail: string;
}

/** What splice requires of a block before it keeps it. */
export interface SpliceOptions {
  /**
   * A block is kept only when its threads hold at least this many characters outside the longest
   * thread (total − longest): below it, forking saves too little. Default 200.
   */
  minParallelChars?: number;
}

/** What splice made: the draft, the groups that became blocks and those skipped, and the lines dropped. */
export interface SpliceResult {
  draft: Draft;
  /** Groups that became blocks, in text order. */
  accepted: number[];
  skipped: SkippedBlock[];
  /** Line numbers inside a block's range that belong to none of its threads (with text). */
  droppedLines: number[];
}

/**
 * The default of SpliceOptions.minParallelChars, the characters a block's threads must hold
 * outside the longest one.
 */
export const DEFAULT_MIN_PARALLEL_CHARS = 200;

/** Drop blank lines at both ends (spaces inside lines are kept). */
export function trimBlankLines(text: string): string {
  return text.replace(/^(?:[ \t]*\n)+/, '').replace(/(?:\n[ \t]*)+$/, '');
}

/**
 * Splice a block into `lines` for each candidate group that passes step 2's checks (at least two
 * threads with text, no overlaps, enough text outside the longest thread), and return the draft.
 */
export function splice(
  lines: readonly string[],
  candidates: readonly BlockCandidate[],
  options: SpliceOptions = {},
): SpliceResult {
  const minChars = options.minParallelChars ?? DEFAULT_MIN_PARALLEL_CHARS;
  const slice = (r: LineRange) => lines.slice(r[0] - 1, r[1]).join('\n');
  const skipped: SkippedBlock[] = [];
  const accepted: { group: number; range: LineRange; threads: DraftBlock['threads'] }[] = [];

  for (const c of candidates) {
    const skip = (reason: SkipReason, detail: string) => skipped.push({ group: c.group, reason, detail });
    for (const t of c.threads) {
      if (t.lines[0] < 1 || t.lines[1] > lines.length || t.lines[0] > t.lines[1]) {
        throw new RangeError(`group ${c.group}: lines ${t.lines[0]}-${t.lines[1]} are not within 1-${lines.length}`);
      }
    }
    const sorted = [...c.threads].sort((a, b) => a.lines[0] - b.lines[0]);
    if (sorted.length < 2) {
      skip('too-few-threads', `${sorted.length} thread(s)`);
      continue;
    }
    const clash = sorted.findIndex((t, i) => i > 0 && t.lines[0] <= sorted[i - 1]!.lines[1]);
    if (clash > 0) {
      const [a, b] = [sorted[clash - 1]!.lines, sorted[clash]!.lines];
      skip('overlapping-threads', `lines ${a[0]}-${a[1]} and ${b[0]}-${b[1]} overlap`);
      continue;
    }
    const threads = sorted
      .map((t) => ({ steps: [...t.steps], lines: t.lines, text: slice(t.lines).trim() }))
      .filter((t) => t.text !== '');
    if (threads.length < 2) {
      skip('too-few-threads', `only ${threads.length} thread(s) hold text`);
      continue;
    }
    const sizes = threads.map((t) => t.text.length);
    const outside = sizes.reduce((s, x) => s + x, 0) - Math.max(...sizes);
    if (outside < minChars) {
      skip('too-little-parallel-text', `${outside} characters outside the longest thread (minimum ${minChars})`);
      continue;
    }
    const range: LineRange = [sorted[0]!.lines[0], Math.max(...sorted.map((t) => t.lines[1]))];
    const other = accepted.find((a) => range[0] <= a.range[1] && a.range[0] <= range[1]);
    if (other) {
      skip(
        'overlaps-block',
        `lines ${range[0]}-${range[1]} overlap the block of group ${other.group} (lines ${other.range[0]}-${other.range[1]})`,
      );
      continue;
    }
    accepted.push({ group: c.group, range, threads });
  }

  accepted.sort((a, b) => a.range[0] - b.range[0]);
  const pieces: DraftPiece[] = [];
  const droppedLines: number[] = [];
  const pushText = (from: number, to: number) => {
    const text = trimBlankLines(lines.slice(from - 1, to).join('\n'));
    if (text.trim()) pieces.push({ kind: 'text', text });
  };
  let next = 1;
  for (const a of accepted) {
    pushText(next, a.range[0] - 1);
    const covered = new Set<number>();
    for (const t of a.threads) for (let l = t.lines[0]; l <= t.lines[1]; l++) covered.add(l);
    for (let l = a.range[0]; l <= a.range[1]; l++) if (!covered.has(l) && lines[l - 1]!.trim()) droppedLines.push(l);
    pieces.push({ kind: 'block', lines: a.range, threads: a.threads, original: trimBlankLines(slice(a.range)) });
    next = a.range[1] + 1;
  }
  pushText(next, lines.length);
  return { draft: { pieces }, accepted: accepted.map((a) => a.group), skipped, droppedLines };
}
