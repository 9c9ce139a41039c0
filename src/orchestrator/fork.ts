import type { EventEmitter } from 'eventemitter3';
import { cutResult, shareBudget } from '../engine/siblings.js';
import type { CompletionResult, Engine, FinishReason } from '../engine/types.js';
import type { Dialect } from '../format/dialect.js';
import type { ControllerEvents } from './events.js';
import type { LimitHit, Piece, TrajectoryBuilder, TrajectoryEnd } from './trajectory.js';

/** What a parallel phase shares with the run it belongs to. */
export interface ForkContext {
  engine: Engine;
  dialect: Dialect;
  builder: TrajectoryBuilder;
  emit: EventEmitter<ControllerEvents>['emit'];
  budget: number;
  contextLimit: number;
  maxTransitions: number;
  sampling: { temperature: number; topP: number; cacheScope: string };
  /** The seed of derivation `k`, or undefined when the run is unseeded. */
  seedOf: ((k: number) => number) | undefined;
  signal?: AbortSignal | undefined;
  /** Mutable run state: transitions so far, the next block number, rails hit. */
  state: { transitions: number; blocks: number; limits: LimitHit[] };
  /** Record a rail hit (kept in the trajectory, told as a `limit` event). */
  limit(hit: LimitHit): void;
}

interface ThreadRun {
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

interface BlockRun {
  index: number;
  depth: number;
  threads: ThreadRun[];
  /** Closers reserved in the context: one per thread, plus the longer of the join end and the block closer. */
  reserve: number;
  startMs: number;
}

/**
 * One parallel phase: the threads of a block (and of blocks nested in them) decoded in rounds.
 * A round continues every live thread from the block's context in one sibling call; the threads
 * share what is left of the budget (and of the context, closers counted) in lockstep, so every
 * engine keeps the same tokens. A thread ends at its close tag, at EOS, or cut; one that writes
 * the fork trigger (formats that nest, below the depth limit) waits for its own block, joined into
 * its text before it goes on. A block with no nesting is one round, the reference controller's
 * parallel phase. Returns how the run ended, or undefined when it goes on after the join.
 */
export async function runParallelPhase(ctx: ForkContext, labels: string[]): Promise<TrajectoryEnd | undefined> {
  const { dialect: d, builder: b, engine } = ctx;
  const tok = engine.tokenizer;
  const count = (text: string) => (text ? tok.count(text) : 0);
  const closerTokens = count(d.threadCloser);
  const endTokens = Math.max(count(d.joinEnd), count(d.blockCloser));
  const prefixLength = b.length;
  const prefix = b.context();
  const open: BlockRun[] = [];

  const committed = (block: BlockRun) =>
    block.threads.reduce((s, t) => s + t.headerIds.length + t.bodyIds, 0) + block.reserve;
  const room = () => ctx.contextLimit - prefixLength - open.reduce((s, blk) => s + committed(blk), 0);

  /** A block of these labels, started from `tail` (a parent thread's); null when its tags do not fit. */
  const fork = (numbers: string[], depth: number, tail: readonly number[], parent?: ThreadRun): BlockRun | null => {
    const block: BlockRun = {
      index: ctx.state.blocks,
      depth,
      threads: [],
      reserve: numbers.length * closerTokens + endTokens,
      startMs: Date.now(),
    };
    block.threads = numbers.map((label, index) => ({
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
    open.push(block);
    if (room() <= 0) {
      open.pop();
      return null;
    }
    ctx.state.blocks++;
    if (parent)
      ctx.emit('outlines', {
        block: block.index,
        numbers,
        parent: { block: parent.block.index, thread: parent.label },
      });
    ctx.emit('phase', { phase: 'parallel', block: block.index });
    for (const t of block.threads) {
      ctx.emit('thread:start', {
        block: block.index,
        thread: t.label,
        ...(parent ? { parent: { block: parent.block.index, thread: parent.label } } : {}),
      });
    }
    return block;
  };

  const top = fork(labels, 1, []);
  if (!top) return 'context';

  /** Live threads in tree order: a waiting thread's nested threads where it stands. */
  const live = (block: BlockRun, out: ThreadRun[] = []): ThreadRun[] => {
    for (const t of block.threads) {
      if (t.state === 'active') out.push(t);
      else if (t.state === 'waiting') live(t.child!, out);
    }
    return out;
  };

  /** A nested block for a thread that wrote the fork trigger, or why not (the thread then goes on). */
  const nest = (t: ThreadRun): 'forked' | 'continue' | 'context' => {
    const where = { block: t.block.index, thread: t.label };
    if (t.block.depth >= d.limits.maxDepth) {
      ctx.limit({
        kind: 'depth',
        ...where,
        message: `thread ${t.label} of block ${t.block.index} opened a block ${t.block.depth + 1} deep (limit ${d.limits.maxDepth}): written on in the thread`,
      });
      return 'continue';
    }
    if (d.limits.maxBlocks !== null && ctx.state.blocks >= d.limits.maxBlocks) {
      ctx.limit({
        kind: 'blocks',
        ...where,
        message: `block limit ${d.limits.maxBlocks} reached: written on in the thread`,
      });
      return 'continue';
    }
    const numbers = capPlan(ctx, d.plan(t.text.slice(t.planFrom)));
    if (numbers.length === 0) return 'continue';
    const child = fork(numbers, t.block.depth + 1, t.tail, t);
    if (!child) return 'context';
    t.child = child;
    t.state = 'waiting';
    return 'forked';
  };

  const add = (t: ThreadRun, piece: Piece) => {
    t.pieces.push(piece);
    t.text += piece.text;
    t.bodyIds += piece.ids.length;
    t.tail.push(...piece.ids);
  };
  const inserted = (text: string): Piece => ({ source: 'inserted', text, ids: tok.encode(text) });

  /** Join a block's threads, in order, into `sink`: header, text, closer when needed; then its end. */
  const join = (block: BlockRun, ending: boolean, sink: (p: Piece) => void) => {
    const joined: string[] = [];
    for (const t of block.threads) {
      if (t.state === 'waiting') joinChild(t, true);
      ctx.emit('thread:end', {
        block: block.index,
        thread: t.label,
        text: t.text,
        finishReason: t.finishReason,
        tokens: t.generated,
        ms: t.endMs - t.startMs,
      });
      const header = inserted(d.joinHeader(t.label, t.index));
      sink(header);
      t.pieces.forEach(sink);
      joined.push(header.text + t.text);
      if (!t.closed) {
        sink(inserted(d.threadCloser));
        joined.push(d.threadCloser);
      }
    }
    const end = ending ? d.blockCloser : d.joinEnd;
    if (end) sink(inserted(end));
    open.splice(open.indexOf(block), 1);
    b.phases.push({ kind: 'parallel', block: block.index, startMs: block.startMs, endMs: Date.now() });
    ctx.emit('join', { block: block.index, text: joined.join('') });
  };
  const joinChild = (t: ThreadRun, ending: boolean) => {
    join(t.child!, ending, (p) => add(t, p));
    t.child = undefined;
    t.planFrom = t.text.length;
    if (t.state === 'waiting') t.state = ending ? 'done' : 'active';
  };
  /** Join every nested block whose threads are all done, innermost first. */
  const settle = (block: BlockRun) => {
    for (const t of block.threads) {
      if (t.state !== 'waiting') continue;
      settle(t.child!);
      if (t.child!.threads.every((c) => c.state === 'done')) joinChild(t, false);
    }
  };

  let end: TrajectoryEnd | undefined;
  for (let round = 0; ; round++) {
    const threads = live(top);
    if (round > 0) {
      if (ctx.signal?.aborted) end = 'abort';
      else if (ctx.state.transitions++ >= ctx.maxTransitions) end = 'transitions';
    }
    const left = ctx.budget - b.generated;
    const pool = Math.min(left, room());
    if (!end && pool <= 0) end = left <= 0 ? 'budget' : 'context';
    if (end) break;

    // Threads of a format that nests stop at the trigger even past the depth limit: the refused fork is recorded.
    const stop = d.nestable ? [d.threadStop, d.forkTrigger] : [d.threadStop];
    const raw: CompletionResult[] = await engine.completeSiblings(
      prefix,
      threads.map((t) => t.tail),
      {
        // Each thread may use the whole pool; together they share it (in lockstep).
        maxTokens: pool,
        maxTotalTokens: pool,
        stop,
        ...ctx.sampling,
        ...(ctx.seedOf
          ? {
              seeds: threads.map((t) =>
                ctx.seedOf!((t.calls === 0 ? 0 : 1_000_000 * t.calls) + 1000 * (t.block.index + 1) + t.index),
              ),
            }
          : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onDelta: (i, text) =>
          ctx.emit('thread:delta', { block: threads[i]!.block.index, thread: threads[i]!.label, text }),
      },
    );
    // Enforced here too, whatever the engine did with maxTotalTokens; a thread's own cap first.
    const caps = threads.map((t) =>
      d.limits.maxThreadTokens === null ? Infinity : Math.max(0, d.limits.maxThreadTokens - t.generated),
    );
    const lengths = raw.map((r, i) => Math.min(r.ids.length, caps[i]!));
    const shares = shareBudget(lengths, pool);
    let aborted = false;
    let eosEnds = false;
    let cut = false;
    for (let i = 0; i < threads.length; i++) {
      const t = threads[i]!;
      const r = cutResult(raw[i]!, shares[i]!, (ids) => tok.decode(ids));
      const call = b.record({ kind: 'thread', block: t.block.index, thread: t.label }, prefixLength, t.tail, r);
      if (t.calls++ === 0) t.startMs = r.startMs;
      t.endMs = r.endMs;
      t.generated += r.ids.length;
      t.finishReason = r.finishReason;
      add(t, { source: 'model', text: r.text, ids: r.ids, call: call.index });
      const capped = lengths[i]! < raw[i]!.ids.length && shares[i] === lengths[i];
      if (r.finishReason === 'abort') {
        aborted = true;
        t.state = 'done';
      } else if (capped) {
        t.state = 'done';
        ctx.limit({
          kind: 'thread-tokens',
          block: t.block.index,
          thread: t.label,
          message: `thread ${t.label} of block ${t.block.index} reached ${d.limits.maxThreadTokens} tokens: closed`,
        });
      } else if (r.finishReason === 'length') {
        t.state = 'done';
        cut = true;
      } else if (r.finishReason === 'eos') {
        t.state = 'done';
        if (d.threadEos === 'end') eosEnds = true;
      } else if (r.matchedStop === d.threadStop) {
        if (d.closesThread(t.text)) {
          t.state = 'done';
          t.closed = true;
        }
      } else if (r.matchedStop === d.forkTrigger) {
        if (nest(t) === 'context') cut = true;
      } else {
        t.state = 'done';
      }
    }
    const overBudget = b.generated >= ctx.budget;
    if (aborted || eosEnds || cut || overBudget) {
      end = aborted ? 'abort' : eosEnds ? 'thread-eos' : overBudget ? 'budget' : 'context';
      break;
    }
    settle(top);
    if (top.threads.every((t) => t.state === 'done')) {
      join(top, false, (p) => b.append(p));
      return undefined;
    }
  }
  join(top, true, (p) => b.append(p));
  return end;
}

/** The plan cut to the thread limit (a longer plan forks its first entries; the cut is recorded). */
export function capPlan(ctx: Pick<ForkContext, 'dialect' | 'state' | 'limit'>, numbers: string[]): string[] {
  const max = ctx.dialect.limits.maxThreads;
  if (numbers.length <= max) return numbers;
  ctx.limit({
    kind: 'threads',
    block: ctx.state.blocks,
    message: `a plan of ${numbers.length} threads: the first ${max} forked`,
  });
  return numbers.slice(0, max);
}
