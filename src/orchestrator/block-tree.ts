import type { FinishReason, Tokenizer } from '../engine/types.js';
import type { Dialect } from '../format/dialect.js';
import type { ForkContext } from './fork.js';
import type { Piece } from './trajectory.js';

/** One thread of a block while the parallel phase runs. */
export interface ThreadRun {
  block: BlockRun;
  index: number;
  label: string;
  /** Ids after the top block's prefix that the thread's next call continues (ancestors' text, its prompt, its text). */
  tail: number[];
  headerIds: number[];
  /** What follows the header in the joined trajectory: the thread's calls and joined nested blocks, in order. */
  pieces: Piece[];
  /** The pieces' text. */
  text: string;
  /** Ids of the pieces. */
  bodyIds: number;
  /** Where a nested plan may start in `text` (past the last nested block). */
  planFrom: number;
  generated: number;
  calls: number;
  state: 'active' | 'waiting' | 'done';
  /** The nested block it waits on (state 'waiting'); cleared when that block joins. */
  child?: BlockRun | undefined;
  /** Ended with its own close tag (no closer needed). */
  closed: boolean;
  finishReason: FinishReason;
  startMs: number;
  endMs: number;
}

/** One block (the top one, or one nested in a thread). */
export interface BlockRun {
  index: number;
  depth: number;
  threads: ThreadRun[];
  /** Closers reserved in the context: one per thread, plus the longer of the join end and the block closer. */
  reserve: number;
  startMs: number;
}

/**
 * The blocks of one parallel phase: the top block and the blocks nested in its threads, what they
 * hold of the context, and how they are forked, joined and settled. Joins are byte-exact: a
 * thread's header, its pieces as decoded, its closer when it did not close itself, then the
 * block's end.
 */
export class BlockTree {
  /** Blocks forked and not yet joined (the context they hold is committed). */
  private readonly open: BlockRun[] = [];
  private readonly tok: Tokenizer;
  private readonly d: Dialect;
  private readonly closerTokens: number;
  private readonly endTokens: number;
  /** Where the top block starts: the trajectory's length when the phase began. */
  readonly prefixLength: number;

  constructor(private readonly ctx: ForkContext) {
    this.tok = ctx.engine.tokenizer;
    this.d = ctx.dialect;
    const count = (text: string) => (text ? this.tok.count(text) : 0);
    this.closerTokens = count(this.d.threadCloser);
    this.endTokens = Math.max(count(this.d.joinEnd), count(this.d.blockCloser));
    this.prefixLength = ctx.builder.length;
  }

  /** The context left: the limit less the prefix and what every open block holds (closers reserved). */
  room(): number {
    const committed = (block: BlockRun) =>
      block.threads.reduce((s, t) => s + t.headerIds.length + t.bodyIds, 0) + block.reserve;
    return this.ctx.contextLimit - this.prefixLength - this.open.reduce((s, blk) => s + committed(blk), 0);
  }

  /** A block of these thread labels, started from `tail` (a parent thread's); null when its tags do not fit. */
  fork(labels: string[], depth: number, tail: readonly number[], parent?: ThreadRun): BlockRun | null {
    const { ctx, d, tok } = this;
    const block: BlockRun = {
      index: ctx.state.blocks,
      depth,
      threads: [],
      reserve: labels.length * this.closerTokens + this.endTokens,
      startMs: Date.now(),
    };
    block.threads = labels.map((label, index) => ({
      block,
      index,
      label,
      tail: [...tail, ...tok.encode(d.threadPrompt(label))],
      headerIds: tok.encode(d.joinHeader(label, index)),
      pieces: [],
      text: '',
      bodyIds: 0,
      planFrom: 0,
      generated: 0,
      calls: 0,
      state: 'active',
      closed: false,
      finishReason: 'stop',
      startMs: 0,
      endMs: 0,
    }));
    this.open.push(block);
    if (this.room() <= 0) {
      this.open.pop();
      return null;
    }
    ctx.state.blocks++;
    const from = parent ? { parent: { block: parent.block.index, thread: parent.label } } : {};
    if (parent) ctx.emit('outlines', { block: block.index, numbers: labels, parent: from.parent! });
    ctx.emit('phase', { phase: 'parallel', block: block.index });
    for (const t of block.threads) ctx.emit('thread:start', { block: block.index, thread: t.label, ...from });
    return block;
  }

  /** Live threads in tree order: a waiting thread's nested threads where it stands. */
  live(block: BlockRun, out: ThreadRun[] = []): ThreadRun[] {
    for (const t of block.threads) {
      if (t.state === 'active') out.push(t);
      else if (t.state === 'waiting') this.live(t.child!, out);
    }
    return out;
  }

  /** A piece of the thread's text (a call's completion, or a joined nested block's bytes). */
  add(t: ThreadRun, piece: Piece): void {
    t.pieces.push(piece);
    t.text += piece.text;
    t.bodyIds += piece.ids.length;
    t.tail.push(...piece.ids);
  }

  /** Join a block's threads, in order, into `sink`: header, text, closer when needed; then its end. */
  join(block: BlockRun, ending: boolean, sink: (p: Piece) => void): void {
    const { ctx, d } = this;
    const joined: string[] = [];
    for (const t of block.threads) {
      if (t.state === 'waiting') this.joinChild(t, true);
      ctx.emit('thread:end', {
        block: block.index,
        thread: t.label,
        text: t.text,
        finishReason: t.finishReason,
        tokens: t.generated,
        ms: t.endMs - t.startMs,
      });
      const header = this.inserted(d.joinHeader(t.label, t.index));
      sink(header);
      t.pieces.forEach(sink);
      joined.push(header.text + t.text);
      if (!t.closed) {
        sink(this.inserted(d.threadCloser));
        joined.push(d.threadCloser);
      }
    }
    const end = ending ? d.blockCloser : d.joinEnd;
    if (end) sink(this.inserted(end));
    this.open.splice(this.open.indexOf(block), 1);
    ctx.builder.phases.push({ kind: 'parallel', block: block.index, startMs: block.startMs, endMs: Date.now() });
    ctx.emit('join', { block: block.index, text: joined.join('') });
  }

  /** Join every nested block whose threads are all done, innermost first. */
  settle(block: BlockRun): void {
    for (const t of block.threads) {
      if (t.state !== 'waiting') continue;
      this.settle(t.child!);
      if (t.child!.threads.every((c) => c.state === 'done')) this.joinChild(t, false);
    }
  }

  /** A thread's nested block joined into its text; the thread goes on (or, `ending`, is done). */
  private joinChild(t: ThreadRun, ending: boolean): void {
    this.join(t.child!, ending, (p) => this.add(t, p));
    t.child = undefined;
    t.planFrom = t.text.length;
    if (t.state === 'waiting') t.state = ending ? 'done' : 'active';
  }

  private inserted(text: string): Piece {
    return { source: 'inserted', text, ids: this.tok.encode(text) };
  }
}
