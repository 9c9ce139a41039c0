/**
 * The lenient format check: whether a trajectory's fork/join structure is sound, whatever the
 * finer rules of its format. A trajectory passes when
 *   1. every block is closed,
 *   2. every thread is closed,
 *   3. no close tag stands without its open one (a stray `</Parallel>` or `</Thread>`),
 *   4. every outline (plan entry) is answered by a thread of its number in the same block (an
 *      entry without a number, by the thread in its position).
 * The strict check (the dialect's `validate`) adds every other rule: think tags, outlines numbered
 * 1..k in order, as many threads as outlines, the `N: text` forms, no tags inside threads or
 * outlines, no text between the parts of a block, the outline limit, blocks inside the think span,
 * the format's reduce step and nesting depth. So every strict pass is a lenient pass.
 */
import { flattenBlocks, type Dialect } from './dialect.js';
import { threadweaver } from './threadweaver.js';
import type { Violation } from './validate.js';

/** Strict codes that mean a close tag without its open one. */
const STRAY_CLOSE = new Set(['parallel-close-unmatched', 'tag-unmatched']);

/** Every violation of the lenient check (empty: the structure is sound). */
export function lenientViolations(text: string, dialect: Dialect = threadweaver): Violation[] {
  const out: Violation[] = [];
  for (const block of flattenBlocks(dialect.parse(text).blocks)) {
    if (!block.closed) out.push({ code: 'block-unclosed', offset: block.start, message: 'a block is never closed' });
    for (const t of block.threads)
      if (!t.closed) out.push({ code: 'thread-unclosed', offset: t.start, message: 'a thread is never closed' });
    (block.plan ?? []).forEach((entry, i) => {
      const answered =
        entry.label === null ? block.threads[i] !== undefined : block.threads.some((t) => t.label === entry.label);
      if (!answered)
        out.push({
          code: 'outline-unanswered',
          offset: block.start,
          message: `outline ${entry.label ?? i + 1} has no thread of its number`,
        });
    });
  }
  for (const v of dialect.validate(text)) {
    const strayClose = STRAY_CLOSE.has(v.code) || (v.code === 'tag-outside-block' && text.startsWith('</', v.offset));
    if (strayClose) out.push({ ...v, code: 'close-unmatched' });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** True when the trajectory passes the lenient check. */
export function isLenientFormat(text: string, dialect: Dialect = threadweaver): boolean {
  return lenientViolations(text, dialect).length === 0;
}
