import type { Violation } from './validate.js';

/**
 * A fork/join reasoning format: everything the controller, the validator, the T/L counter and
 * the converters need to know about one model family's trajectories. The controller itself
 * knows none of it: it decodes until `forkTrigger`, asks `plan` which threads to start, prompts
 * each with `threadPrompt`, stops it at `threadStop`, and joins with `joinHeader`, `joinEnd`
 * and the closers. Every string here is exact bytes.
 */
export interface Dialect {
  readonly name: DialectName;
  /** The project's own name for the format. */
  readonly title: string;
  /** Every tag of the format, exactly as written (a checkpoint's added tokens). */
  readonly tags: readonly string[];
  /** The reasoning span's tags, when the format has its own (null: none, or not the format's concern). */
  readonly think: { open: string; close: string } | null;

  /** The stop string at which sequential decoding ends to read a plan. */
  readonly forkTrigger: string;
  /**
   * The threads to start, given the text since the previous block (the trigger at its end):
   * their labels in order, duplicates dropped. Empty: no plan, keep decoding sequentially.
   */
  plan(text: string): string[];
  /** What the controller appends to the shared context to start thread `label`. */
  threadPrompt(label: string): string;
  /** The stop string that ends a thread. */
  readonly threadStop: string;
  /**
   * Whether a thread whose generated text (after its prompt) ends with `threadStop` is over, or
   * the stop closed a structure the thread opened itself (a nested block written sequentially).
   */
  closesThread(threadText: string): boolean;
  /** The bytes before thread `index`'s text in the joined trajectory. */
  joinHeader(label: string, index: number): string;
  /** Appended to a thread that did not end with `threadStop` (cut short, or EOS). */
  readonly threadCloser: string;
  /** Appended after the last thread when the run goes on (the model writes what follows). */
  readonly joinEnd: string;
  /** Appended after the threads when the run ends inside the block. */
  readonly blockCloser: string;
  /** A thread that ends with EOS: `end` the run (tags closed), or `close` the thread and go on. */
  readonly threadEos: 'end' | 'close';
  /** Whether threads may open blocks of their own (Multiverse); below `limits.maxDepth` they fork. */
  readonly nestable: boolean;
  /** Rails against runaway parallelism (see DialectLimits). */
  readonly limits: DialectLimits;

  /** The blocks of a trajectory (lenient: any text parses). */
  parse(text: string): ForkTree;
  /** The format's strict rules: every violation with its offset (empty: valid). */
  validate(text: string): Violation[];
  /** The canonical bytes of one block as the model is trained to write it (for converters). */
  renderBlock(block: BlockContent): string;
}

/** The names of the built-in trajectory formats, the default (`threadweaver`) first. */
export const DIALECT_NAMES = ['threadweaver', 'multiverse', 'parallel-r1', 'npr'] as const;
/** The name of a built-in trajectory format (see DIALECT_NAMES). */
export type DialectName = (typeof DIALECT_NAMES)[number];

/**
 * Limits the controller enforces whatever the model writes. Past one, it stops forking and lets
 * the model go on sequentially (what the Multiverse engine does past its depth limit), and
 * records the event in the trajectory's `limits`.
 */
export interface DialectLimits {
  /** Blocks may nest this deep (1: no nesting; a thread never forks). */
  maxDepth: number;
  /** Threads started per block; a longer plan forks its first `maxThreads` entries. */
  maxThreads: number;
  /** Blocks per run (null: no limit besides the transition cap). */
  maxBlocks: number | null;
  /** Tokens one thread may generate; a thread reaching it is closed and its block goes on (null: none). */
  maxThreadTokens: number | null;
}

/** One entry of a block's plan (an outline, a plan line). */
export interface PlanItem {
  /** The number the entry starts with (`1`, `2.1`), as written; null when it has none. */
  label: string | null;
  /** The entry after its `N:`, trimmed. */
  text: string;
}

/** One thread of a parsed block. Offsets are into the parsed text. */
export interface ForkThread {
  /** Offset of the thread's open tag (or its body, for formats whose threads have none). */
  start: number;
  /** Offset past its close tag (or where it was cut off). */
  end: number;
  /** The thread's own text: what counts as the thread for T and L. */
  bodyStart: number;
  bodyEnd: number;
  label: string | null;
  /** The body after its `N:`, trimmed. */
  text: string;
  closed: boolean;
  /** Blocks nested in this thread. */
  blocks: ForkBlock[];
}

/**
 * One block of a parsed trajectory in any format, with its plan, threads and reduce step. Offsets
 * are into the parsed text.
 */
export interface ForkBlock {
  /** Offset of the block's first tag. */
  start: number;
  /** Offset past its last tag (or where it was cut off). */
  end: number;
  /** The block's region: tokens here are the block's (plan, thread wrappers, threads), not sequential text. */
  innerStart: number;
  innerEnd: number;
  closed: boolean;
  /** Null for formats without a plan (Parallel-R1). */
  plan: PlanItem[] | null;
  threads: ForkThread[];
  /** The reduce step in the format's own tag (`<Conclusion>`, `<Summary>`, `<takeaway>`), trimmed; null when none. */
  reduce: { start: number; end: number; text: string } | null;
  /** 1 for a top-level block, 2 inside a thread of one, and so on. */
  depth: number;
}

/** The parsed blocks of a trajectory: top-level blocks in order, nested ones inside their threads. */
export interface ForkTree {
  source: string;
  blocks: ForkBlock[];
}

/** What a block says, independent of its bytes: what converters carry from one format to another. */
export interface BlockContent {
  /** Plan entries (numbered 1..k when rendered); null for a format without a plan. */
  plan: readonly string[] | null;
  threads: readonly string[];
  /** The reduce step's text (null: none). */
  reduce: string | null;
}

/** Every block of a tree in pre-order (a block before the blocks nested in its threads): the controller's block numbering. */
export function flattenBlocks(blocks: readonly ForkBlock[]): ForkBlock[] {
  const out: ForkBlock[] = [];
  const walk = (list: readonly ForkBlock[]) => {
    for (const b of list) {
      out.push(b);
      for (const t of b.threads) walk(t.blocks);
    }
  };
  walk(blocks);
  return out;
}

/** `N:` at the start of a body (spaces allowed), the reference outline rule's number. */
export const LABEL_PREFIX = /^\s*(\d+(?:\.\d+)*)\s*:/;

/** A body as a label and its text: the number before `:` (null when none) and the trimmed rest. */
export function labelled(body: string): { label: string | null; text: string } {
  const m = LABEL_PREFIX.exec(body);
  return { label: m ? m[1]! : null, text: (m ? body.slice(m[0].length) : body).trim() };
}

/** The numbers of `re` matches in `text` from the last `from` on, duplicates dropped (first kept). */
export function numbersAfter(text: string, from: string, re: RegExp): string[] {
  const at = text.lastIndexOf(from);
  if (at < 0) return [];
  const seen = new Set<string>();
  for (const m of text.slice(at).matchAll(re)) seen.add(m[1]!);
  return [...seen];
}
