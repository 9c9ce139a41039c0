import { parseTrajectory } from './parse.js';
import { ALL_TAGS, MAX_OUTLINES, TAG } from './tags.js';
import type { TrajectoryTree } from './tree.js';

/** What a strict format check found wrong, as a stable code (ThreadWeaver's first, then the other formats'). */
export type ViolationCode =
  | 'think-duplicate'
  | 'think-unclosed'
  | 'think-close-unmatched'
  | 'parallel-unclosed'
  | 'parallel-close-unmatched'
  | 'parallel-nested'
  | 'parallel-outside-think'
  | 'tag-outside-block'
  | 'tag-in-block'
  | 'block-order'
  | 'outlines-missing'
  | 'outlines-unclosed'
  | 'outline-unclosed'
  | 'outline-format'
  | 'outline-numbering'
  | 'outline-count'
  | 'too-many-outlines'
  | 'thread-missing'
  | 'thread-unclosed'
  | 'thread-format'
  | 'thread-numbering'
  | 'tag-in-thread'
  | 'tag-in-outline'
  // Codes of the other formats' validators (src/format/multiverse.ts, parallel-r1.ts, npr.ts).
  | 'tag-unclosed'
  | 'tag-unmatched'
  | 'tag-misplaced'
  | 'block-children'
  | 'plan-missing'
  | 'plan-format'
  | 'plan-numbering'
  | 'thread-count'
  | 'too-many-threads'
  | 'reduce-missing'
  | 'nesting-depth'
  // Codes of the lenient check (src/format/lenient.ts).
  | 'block-unclosed'
  | 'outline-unanswered'
  | 'close-unmatched';

/** One broken rule of a strict format check, with the offset where it is seen and a message. */
export interface Violation {
  code: ViolationCode;
  /** Offset in the text where the problem is seen. */
  offset: number;
  message: string;
}

const TAG_SOURCE = ALL_TAGS.map((t) => t.replace(/[/]/g, '\\/')).join('|');
const ANY_TAG_RE = new RegExp(TAG_SOURCE, 'g');
const FIRST_TAG_RE = new RegExp(TAG_SOURCE);
// Body of an outline or thread: a whole-number label, a colon, then some text.
const LABELLED = /^\s*(\d+)\s*:\s*\S[\s\S]*$/;
const BLOCK_ONLY = new Set<string>([
  TAG.outlinesOpen,
  TAG.outlinesClose,
  TAG.outlineOpen,
  TAG.outlineClose,
  TAG.threadOpen,
  TAG.threadClose,
]);

/**
 * The strict format check (the reference data filter's rules, plus `<think>` balance):
 * every violation, each with the offset where it is seen. A trajectory with no block is valid.
 */
export function validateTrajectory(input: string | TrajectoryTree): Violation[] {
  const tree = typeof input === 'string' ? parseTrajectory(input) : input;
  const text = tree.source;
  const out: Violation[] = [];
  const add = (code: ViolationCode, offset: number, message: string) => out.push({ code, offset, message });

  // <think> balance.
  const thinkOpens = [...text.matchAll(/<think>/g)].map((m) => m.index);
  const thinkCloses = [...text.matchAll(/<\/think>/g)].map((m) => m.index);
  if (thinkOpens.length > 1) add('think-duplicate', thinkOpens[1]!, 'more than one <think>');
  if (thinkCloses.length > 1) add('think-duplicate', thinkCloses[1]!, 'more than one </think>');
  if (thinkOpens.length > 0 && thinkCloses.length === 0)
    add('think-unclosed', thinkOpens[0]!, '<think> is never closed');
  if (thinkCloses.length > 0 && (thinkOpens.length === 0 || thinkCloses[0]! < thinkOpens[0]!)) {
    add('think-close-unmatched', thinkCloses[0]!, '</think> without a preceding <think>');
  }
  const thinkStart = thinkOpens[0];
  const thinkEnd = thinkCloses[0];

  // Tags in sequential text: block tags and a stray </Parallel> belong inside a block.
  for (const seg of tree.segments) {
    if (seg.kind !== 'sequential') continue;
    for (const m of seg.text.matchAll(ANY_TAG_RE)) {
      const at = seg.start + m.index;
      if (m[0] === TAG.parallelClose) add('parallel-close-unmatched', at, '</Parallel> without an open <Parallel>');
      else if (BLOCK_ONLY.has(m[0])) add('tag-outside-block', at, `${m[0]} outside a <Parallel> block`);
    }
  }

  for (const block of tree.blocks) {
    if (!block.closed) add('parallel-unclosed', block.start, '<Parallel> is never closed');
    if (thinkStart !== undefined && (block.start < thinkStart || (thinkEnd !== undefined && block.start > thinkEnd))) {
      add('parallel-outside-think', block.start, '<Parallel> outside the <think> span');
    }
    // Order: <Outlines> first, then one or more threads, whitespace only around them.
    let seenOutlines = false;
    let seenThread = false;
    for (const part of block.parts) {
      if (part.kind === 'text') {
        for (const m of part.raw.matchAll(ANY_TAG_RE)) {
          const at = part.start + m.index;
          if (m[0] === TAG.parallelOpen) add('parallel-nested', at, '<Parallel> inside a block');
          else add('tag-in-block', at, `${m[0]} is not allowed here in a block`);
        }
        const stray = part.raw.replace(ANY_TAG_RE, (t) => ' '.repeat(t.length)).search(/\S/);
        if (stray >= 0) add('block-order', part.start + stray, 'text in a block outside outlines and threads');
      } else if (part.kind === 'outlines') {
        if (seenOutlines || seenThread) add('block-order', part.start, '<Outlines> must come once, before the threads');
        seenOutlines = true;
        if (!part.closed) add('outlines-unclosed', part.start, '<Outlines> is never closed');
      } else {
        if (!seenOutlines) add('block-order', part.start, '<Thread> before <Outlines>');
        seenThread = true;
      }
    }
    if (!seenOutlines) add('outlines-missing', block.start, 'block has no <Outlines> section');
    if (block.threads.length === 0) add('thread-missing', block.start, 'block has no <Thread>');
    if (block.outlines.length > MAX_OUTLINES)
      add('too-many-outlines', block.start, `${block.outlines.length} outlines (max ${MAX_OUTLINES})`);
    if (seenOutlines && block.threads.length > 0 && block.outlines.length !== block.threads.length) {
      add('outline-count', block.start, `${block.outlines.length} outlines but ${block.threads.length} threads`);
    }

    block.outlines.forEach((o, i) => {
      if (!o.closed) add('outline-unclosed', o.start, '<Outline> without </Outline>');
      const tag = o.body.search(FIRST_TAG_RE);
      if (tag >= 0) add('tag-in-outline', o.start + TAG.outlineOpen.length + tag, 'a tag inside an outline');
      const m = LABELLED.exec(o.body);
      if (!m) add('outline-format', o.start, 'outline is not of the form "N: text"');
      else if (m[1] !== String(i + 1)) add('outline-numbering', o.start, `outline ${i + 1} is numbered ${m[1]}`);
    });

    block.threads.forEach((t, i) => {
      if (!t.closed) add('thread-unclosed', t.start, '<Thread> without </Thread>');
      const tag = t.body.search(FIRST_TAG_RE);
      if (tag >= 0) add('tag-in-thread', t.start + TAG.threadOpen.length + tag, 'a tag inside a thread');
      const m = LABELLED.exec(t.body);
      if (!m) add('thread-format', t.start, 'thread is not of the form "N: text"');
      else {
        const expected = block.outlines[i]?.number ?? String(i + 1);
        if (m[1] !== expected || m[1] !== String(i + 1)) {
          add('thread-numbering', t.start, `thread ${i + 1} is numbered ${m[1]}, its outline ${expected}`);
        }
      }
    });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** True when the text passes every strict rule. */
export function isValidTrajectory(text: string): boolean {
  return validateTrajectory(text).length === 0;
}
