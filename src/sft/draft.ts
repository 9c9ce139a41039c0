/**
 * The working document of stage 1: the reasoning as sequential text pieces and parallel blocks,
 * rendered to the trajectory format only at the end (so the steps never re-parse their own tags).
 */
import { formatBlock } from '../format/render.js';
import { ALL_TAGS, TAG } from '../format/tags.js';
import { ThreadweaverError } from '../errors.js';

/** A 1-based, inclusive line range of the reasoning. */
export type LineRange = readonly [start: number, end: number];

export interface DraftThread {
  lines: LineRange;
  /** The step ids the thread was made of (step 1's ids). */
  steps: readonly string[];
  /** The thread's text, without number or tags. */
  text: string;
}

export interface DraftBlock {
  kind: 'block';
  /** The lines the block replaced. */
  lines: LineRange;
  threads: DraftThread[];
  /** One per thread, once step 4 has written them. */
  outlines?: string[];
  /** The replaced lines as they were, for turning the block back into plain text. */
  original: string;
}

export interface DraftText {
  kind: 'text';
  text: string;
}

export type DraftPiece = DraftText | DraftBlock;

export interface Draft {
  pieces: DraftPiece[];
}

export const isBlock = (p: DraftPiece): p is DraftBlock => p.kind === 'block';

const OUTLINE_PENDING = '(outline not written yet)';

/** The `<think>` body: pieces one after another, each block in the canonical bytes of formatBlock. */
export function renderBody(draft: Draft, options: { pendingOutlines?: boolean } = {}): string {
  return draft.pieces
    .map((p) => {
      if (p.kind === 'text') return p.text;
      const outlines = p.outlines ?? (options.pendingOutlines ? p.threads.map(() => OUTLINE_PENDING) : undefined);
      if (!outlines) throw new ThreadweaverError(`the block at lines ${p.lines[0]}-${p.lines[1]} has no outlines`);
      return formatBlock({ outlines, threads: p.threads.map((t) => t.text) });
    })
    .join('\n');
}

/** The whole trajectory: `<think>\n{body}\n</think>\n{response}`. */
export function renderTrajectory(draft: Draft, response: string): string {
  return `${TAG.thinkOpen}\n${renderBody(draft)}\n${TAG.thinkClose}\n${response.trim()}`;
}

/** Non-empty lines of `text`, trimmed. */
export function nonEmptyLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/**
 * The plain text before piece `index`, as non-empty lines without tags: earlier blocks
 * contribute their threads' text (what a reader of the reasoning so far has seen).
 */
export function linesBefore(draft: Draft, index: number): string[] {
  const lines: string[] = [];
  for (const p of draft.pieces.slice(0, index)) {
    const text = p.kind === 'text' ? p.text : p.threads.map((t) => t.text).join('\n');
    lines.push(...nonEmptyLines(stripTags(text)));
  }
  return lines;
}

const TAG_RE = new RegExp(ALL_TAGS.map((t) => t.replace('/', '\\/')).join('|'), 'g');

export function stripTags(text: string): string {
  return text.replace(TAG_RE, '');
}

export function hasTag(text: string): boolean {
  return ALL_TAGS.some((t) => text.includes(t));
}

/** Turn block `index` back into the plain lines it replaced. */
export function revertBlock(draft: Draft, index: number): Draft {
  const piece = draft.pieces[index];
  if (!piece || piece.kind !== 'block') throw new ThreadweaverError(`piece ${index} is not a block`);
  const pieces = [...draft.pieces];
  pieces[index] = { kind: 'text', text: piece.original };
  return { pieces };
}
