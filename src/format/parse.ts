import { TAG } from './tags.js';
import type { Outline, OutlinesSection, ParallelBlock, Segment, Thread, TrajectoryTree } from './tree.js';

const TAG_RE = /<\/?(?:Parallel|Outlines|Outline|Thread)>/g;
const NUMBER_PREFIX = /^\s*(\d+(?:\.\d+)*)\s*:/;

/**
 * Parse a trajectory leniently. Unclosed structures run to the end of the text; inside a thread
 * only `</Thread>` ends it (other tags are literal content, as the reference controller treats
 * them). Tags outside a block are left in the sequential text for the validator to report.
 */
export function parseTrajectory(text: string): TrajectoryTree {
  const tokens: { tag: string; start: number; end: number }[] = [];
  for (const m of text.matchAll(TAG_RE)) tokens.push({ tag: m[0], start: m.index, end: m.index + m[0].length });

  const segments: Segment[] = [];
  const blocks: ParallelBlock[] = [];
  let cursor = 0;
  let i = 0;
  const pushSequential = (end: number) => {
    if (end > cursor) segments.push({ kind: 'sequential', text: text.slice(cursor, end), start: cursor, end });
    cursor = end;
  };

  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t.tag !== TAG.parallelOpen) {
      i++;
      continue;
    }
    pushSequential(t.start);
    const block: ParallelBlock = {
      kind: 'parallel',
      start: t.start,
      end: text.length,
      parts: [],
      closed: false,
      outlines: [],
      threads: [],
    };
    let pos = t.end;
    i++;
    const pushText = (end: number) => {
      if (end > pos) block.parts.push({ kind: 'text', raw: text.slice(pos, end), start: pos, end });
      pos = end;
    };
    while (i < tokens.length) {
      const u = tokens[i]!;
      if (u.tag === TAG.parallelClose) {
        pushText(u.start);
        block.closed = true;
        block.end = u.end;
        i++;
        break;
      }
      if (u.tag === TAG.threadOpen) {
        pushText(u.start);
        let j = i + 1;
        while (j < tokens.length && tokens[j]!.tag !== TAG.threadClose) j++;
        const close = tokens[j];
        const end = close ? close.end : text.length;
        const thread = makeThread(text, u.start, u.end, close ? close.start : text.length, end, !!close);
        block.parts.push(thread);
        block.threads.push(thread);
        pos = end;
        i = close ? j + 1 : tokens.length;
        continue;
      }
      if (u.tag === TAG.outlinesOpen) {
        pushText(u.start);
        let j = i + 1;
        while (
          j < tokens.length &&
          ![TAG.outlinesClose, TAG.threadOpen, TAG.parallelClose].includes(tokens[j]!.tag as never)
        )
          j++;
        const close = tokens[j]?.tag === TAG.outlinesClose ? tokens[j] : undefined;
        const end = close ? close.end : (tokens[j]?.start ?? text.length);
        const section = makeOutlines(text, u.start, end, !!close, tokens.slice(i + 1, j));
        block.parts.push(section);
        block.outlines.push(...section.outlines);
        pos = end;
        i = close ? j + 1 : j;
        continue;
      }
      // A stray tag inside a block stays in the block's text.
      i++;
    }
    if (!block.closed) pushText(text.length);
    block.end = block.closed ? block.end : text.length;
    segments.push(block);
    blocks.push(block);
    cursor = block.end;
  }
  pushSequential(text.length);

  const thinkEnd = text.indexOf(TAG.thinkClose);
  return { source: text, segments, blocks, thinkEnd: thinkEnd < 0 ? null : thinkEnd };
}

function makeThread(
  text: string,
  start: number,
  bodyStart: number,
  bodyEnd: number,
  end: number,
  closed: boolean,
): Thread {
  const body = text.slice(bodyStart, bodyEnd);
  const m = NUMBER_PREFIX.exec(body);
  return {
    kind: 'thread',
    raw: text.slice(start, end),
    start,
    end,
    number: m ? m[1]! : null,
    body,
    text: (m ? body.slice(m[0].length) : body).trim(),
    closed,
  };
}

function makeOutlines(
  text: string,
  start: number,
  end: number,
  closed: boolean,
  inner: { tag: string; start: number; end: number }[],
): OutlinesSection {
  const outlines: Outline[] = [];
  const bodyEnd = closed ? end - TAG.outlinesClose.length : end;
  for (let k = 0; k < inner.length; k++) {
    const t = inner[k]!;
    if (t.tag !== TAG.outlineOpen) continue;
    const next = inner[k + 1];
    const hasClose = next?.tag === TAG.outlineClose;
    const stop = hasClose ? next.start : (next?.start ?? bodyEnd);
    const body = text.slice(t.end, stop);
    const m = NUMBER_PREFIX.exec(body);
    outlines.push({
      start: t.start,
      end: hasClose ? next.end : stop,
      number: m ? m[1]! : null,
      text: (m ? body.slice(m[0].length) : body).trim(),
      body,
      closed: hasClose,
    });
  }
  return { kind: 'outlines', raw: text.slice(start, end), start, end, outlines, closed };
}
