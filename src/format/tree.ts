/**
 * A parsed trajectory: a partition of the text into pieces, so rendering is concatenation and
 * every node knows its offsets. The parser is lenient; `validate` states what is wrong.
 */
export interface Span {
  /** Offset of the first character in the source text. */
  start: number;
  /** Offset one past the last character. */
  end: number;
}

/** Text outside any `<Parallel>` block (it may hold `<think>`, `</think>` and the answer). */
export interface SequentialSegment extends Span {
  kind: 'sequential';
  text: string;
}

/** One `<Outline>` entry: the number is what the controller's rule reads (null if none). */
export interface Outline extends Span {
  number: string | null;
  /** The body after `N:` (or the whole body when there is no number). */
  text: string;
  /** The raw text between `<Outline>` and `</Outline>` (or the end of the section). */
  body: string;
  closed: boolean;
}

/** A block's `<Outlines>` section (through `</Outlines>`, or up to where it was cut off) with its entries. */
export interface OutlinesSection extends Span {
  kind: 'outlines';
  raw: string;
  outlines: Outline[];
  closed: boolean;
}

/** One `<Thread>` of a parsed block, through its `</Thread>` (or the end of the text when unclosed). */
export interface Thread extends Span {
  kind: 'thread';
  raw: string;
  number: string | null;
  /** The raw text between `<Thread>` and `</Thread>`. */
  body: string;
  /** The body after `\nN:` with surrounding whitespace trimmed. */
  text: string;
  closed: boolean;
}

/** In-block text that is neither the outlines section nor a thread (usually newlines). */
export interface BlockText extends Span {
  kind: 'text';
  raw: string;
}

/** A piece of a block's inside, in text order: the outlines section, a thread, or other text. */
export type BlockPart = OutlinesSection | Thread | BlockText;

/**
 * One `<Parallel>` block of a parsed ThreadWeaver trajectory: its parts in order, and its outlines
 * and threads picked out.
 */
export interface ParallelBlock extends Span {
  kind: 'parallel';
  /** `<Parallel>` through `</Parallel>` (or the end of text when unclosed). */
  parts: BlockPart[];
  closed: boolean;
  outlines: Outline[];
  threads: Thread[];
}

/** A piece of a parsed trajectory, sequential text or a block; the segments partition the text. */
export type Segment = SequentialSegment | ParallelBlock;

/**
 * A ThreadWeaver trajectory as parseTrajectory reads it: segments covering the text in order, and
 * the blocks among them.
 */
export interface TrajectoryTree {
  source: string;
  segments: Segment[];
  blocks: ParallelBlock[];
  /** Offset of the first `</think>`, or null. */
  thinkEnd: number | null;
}
