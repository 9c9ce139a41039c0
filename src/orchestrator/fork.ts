import type { EventEmitter } from 'eventemitter3';
import { cutResult, shareBudget } from '../engine/siblings.js';
import type { CompletionResult, Engine, SamplingControls } from '../engine/types.js';
import { BlockTree, type ThreadRun } from './block-tree.js';
import type { Dialect } from '../format/dialect.js';
import type { ControllerEvents } from './events.js';
import type { LimitHit, TrajectoryBuilder, TrajectoryEnd } from './trajectory.js';

/** What a parallel phase shares with the run it belongs to. */
export interface ForkContext {
  engine: Engine;
  dialect: Dialect;
  builder: TrajectoryBuilder;
  emit: EventEmitter<ControllerEvents>['emit'];
  /** The response budget (solve's maxTokens): generated tokens over the run, every thread counted. */
  maxTokens: number;
  contextLimit: number;
  maxTransitions: number;
  sampling: SamplingControls & { temperature: number; topP: number; cacheScope: string };
  /** The seed of derivation `k`, or undefined when the run is unseeded. */
  seedOf: ((k: number) => number) | undefined;
  signal?: AbortSignal | undefined;
  /** The sample's key (ControllerOptions.affinityKey): each thread's call names its block too. */
  affinityKey?: string | undefined;
  /** Mutable run state: transitions so far, the next block number, rails hit. */
  state: { transitions: number; blocks: number; limits: LimitHit[] };
  /** Record a rail hit (kept in the trajectory, told as a `limit` event). */
  limit(hit: LimitHit): void;
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
  const tree = new BlockTree(ctx);
  const top = tree.fork(labels, 1, []);
  if (!top) return 'context';
  const prefix = ctx.builder.context();
  let end: TrajectoryEnd | undefined;
  for (let round = 0; ; round++) {
    if (round > 0) {
      if (ctx.signal?.aborted) end = 'abort';
      else if (ctx.state.transitions++ >= ctx.maxTransitions) end = 'transitions';
    }
    const left = ctx.maxTokens - ctx.builder.generated;
    const pool = Math.min(left, tree.room());
    if (!end && pool <= 0) end = left <= 0 ? 'budget' : 'context';
    if (end) break;
    end = await runRound(ctx, tree, prefix, tree.live(top), pool);
    if (end) break;
    tree.settle(top);
    if (top.threads.every((t) => t.state === 'done')) {
      tree.join(top, false, (p) => ctx.builder.append(p));
      return undefined;
    }
  }
  tree.join(top, true, (p) => ctx.builder.append(p));
  return end;
}

/**
 * One round: every live thread continued in one sibling call, each cut to its share of `pool`,
 * recorded, and moved on (done, waiting on a nested block, or still active). Returns how the run
 * ends when the round ends it.
 */
async function runRound(
  ctx: ForkContext,
  tree: BlockTree,
  prefix: readonly number[],
  threads: ThreadRun[],
  pool: number,
): Promise<TrajectoryEnd | undefined> {
  const { dialect: d, builder: b, engine } = ctx;
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
      ...(ctx.seedOf ? { seeds: threads.map((t) => ctx.seedOf!(threadDerivation(t))) } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      ...(ctx.affinityKey ? { affinities: threads.map((t) => ({ key: ctx.affinityKey!, block: t.block.index })) } : {}),
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
  const ends = new Set<'abort' | 'eos' | 'cut'>();
  for (const [i, t] of threads.entries()) {
    const r = cutResult(raw[i]!, shares[i]!, (ids) => engine.tokenizer.decode(ids));
    const call = b.record({ kind: 'thread', block: t.block.index, thread: t.label }, tree.prefixLength, t.tail, r);
    if (t.calls++ === 0) t.startMs = r.startMs;
    t.endMs = r.endMs;
    t.generated += r.ids.length;
    t.finishReason = r.finishReason;
    tree.add(t, { source: 'model', text: r.text, ids: r.ids, call: call.index });
    const capped = lengths[i]! < raw[i]!.ids.length && shares[i] === lengths[i];
    const outcome = settleThread(ctx, tree, t, r, capped);
    if (outcome) ends.add(outcome);
  }
  const overBudget = b.generated >= ctx.maxTokens;
  if (ends.has('abort')) return 'abort';
  if (ends.has('eos')) return 'thread-eos';
  if (overBudget) return 'budget';
  return ends.has('cut') ? 'context' : undefined;
}

/** The seed derivation of a thread's next call (its block, its place, how many calls it made). */
function threadDerivation(t: ThreadRun): number {
  return (t.calls === 0 ? 0 : 1_000_000 * t.calls) + 1000 * (t.block.index + 1) + t.index;
}

/** A thread's state after its call; what it means for the run (abort, an EOS that ends it, a cut). */
function settleThread(
  ctx: ForkContext,
  tree: BlockTree,
  t: ThreadRun,
  r: CompletionResult,
  capped: boolean,
): 'abort' | 'eos' | 'cut' | undefined {
  const d = ctx.dialect;
  if (r.finishReason === 'abort') {
    t.state = 'done';
    return 'abort';
  }
  if (capped) {
    t.state = 'done';
    ctx.limit({
      kind: 'thread-tokens',
      block: t.block.index,
      thread: t.label,
      message: `thread ${t.label} of block ${t.block.index + 1} reached ${d.limits.maxThreadTokens} tokens: closed`,
    });
    return undefined;
  }
  if (r.finishReason === 'length') {
    t.state = 'done';
    return 'cut';
  }
  if (r.finishReason === 'eos') {
    t.state = 'done';
    return d.threadEos === 'end' ? 'eos' : undefined;
  }
  if (r.matchedStop === d.threadStop) {
    if (d.closesThread(t.text)) {
      t.state = 'done';
      t.closed = true;
    }
    return undefined;
  }
  if (r.matchedStop === d.forkTrigger) return nest(ctx, tree, t) === 'context' ? 'cut' : undefined;
  t.state = 'done';
  return undefined;
}

/** A nested block for a thread that wrote the fork trigger, or why not (the thread then goes on). */
function nest(ctx: ForkContext, tree: BlockTree, t: ThreadRun): 'forked' | 'continue' | 'context' {
  const d = ctx.dialect;
  const where = { block: t.block.index, thread: t.label };
  if (t.block.depth >= d.limits.maxDepth) {
    ctx.limit({
      kind: 'depth',
      ...where,
      message: `thread ${t.label} of block ${t.block.index + 1} opened a block ${t.block.depth + 1} deep (limit ${d.limits.maxDepth}): written on in the thread`,
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
  const labels = capPlan(ctx, d.plan(t.text.slice(t.planFrom)));
  if (labels.length === 0) return 'continue';
  const child = tree.fork(labels, t.block.depth + 1, t.tail, t);
  if (!child) return 'context';
  t.child = child;
  t.state = 'waiting';
  return 'forked';
}

/** The plan cut to the thread limit (a longer plan forks its first entries; the cut is recorded). */
export function capPlan(ctx: Pick<ForkContext, 'dialect' | 'state' | 'limit'>, labels: string[]): string[] {
  const max = ctx.dialect.limits.maxThreads;
  if (labels.length <= max) return labels;
  ctx.limit({
    kind: 'threads',
    block: ctx.state.blocks,
    message: `a plan of ${labels.length} threads: the first ${max} forked`,
  });
  return labels.slice(0, max);
}
