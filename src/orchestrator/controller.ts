import { EventEmitter } from 'eventemitter3';
import { deriveSeed } from '../engine/sampling.js';
import type { Engine, SamplingControls } from '../engine/types.js';
import type { Dialect } from '../format/dialect.js';
import { threadweaver } from '../format/threadweaver.js';
import type { ControllerEvents } from './events.js';
import { capPlan, runParallelPhase, type ForkContext } from './fork.js';
import { TrajectoryBuilder, type LimitHit, type Trajectory, type TrajectoryEnd } from './trajectory.js';

/** Callers pass these on from settings of their own: an undefined option is the default. */
export interface ControllerOptions {
  /** `parallel` forks at the format's trigger (ThreadWeaver: `</Outlines>`); `sequential` never forks. */
  mode?: 'parallel' | 'sequential' | undefined;
  /**
   * Response budget: tokens the model generates, summed over every call, every thread counted
   * (as in the reference). Text the controller inserts (thread headers, `\n</Thread>`,
   * separators, `\n</Parallel>`) is not generated and does not count; it does count toward
   * the context limit. Default: the context length.
   */
  maxTokens?: number | undefined;
  /**
   * Max prompt + joined completion tokens, inserted text included (default and upper bound: the
   * engine's context length). A run that reaches it is cut to fit, closing tags included.
   */
  contextLimit?: number | undefined;
  /** Max state transitions (reference: 32). */
  maxTransitions?: number | undefined;
  temperature?: number | undefined;
  topP?: number | undefined;
  /** Top-k, min-p and penalties for every call, for engines that list them in `samplingControls`. */
  controls?: SamplingControls | undefined;
  /** Base seed (any safe integer); each call and each thread derives its own with `deriveSeed`. */
  seed?: number | undefined;
  signal?: AbortSignal | undefined;
  /**
   * The sample's key, carried by every call of the run (threads and continuations included) so
   * that a router in front of several servers keeps them on one (see CallAffinity). Unset: none.
   */
  affinityKey?: string | undefined;
}

/**
 * The default cap on a run's state transitions (the reference controller's); a run that reaches it
 * ends with `transitions`.
 */
export const DEFAULT_MAX_TRANSITIONS = 32;

let runCounter = 0;

/**
 * The fork/join decoding controller, with the reference controller's semantics, for any format
 * (a Dialect; default ThreadWeaver): decode until the format's fork trigger (`</Outlines>`) or
 * EOS; fork one continuation per plan entry with the context + the thread prompt
 * (`\n<Thread>\n{n}:`), each stopping at the thread's close tag; join them byte-exactly and
 * continue (the model writes what follows the join). A thread cut by length or EOS gets its
 * closer, the block its closer, and the run ends (a format whose threads go on after EOS closes
 * just the thread). Every call is recorded for tries and training rows.
 *
 * Limits: each thread may use the whole remaining budget; the threads of a block share it in
 * lockstep (see lockstepShares), which the controller enforces after the join whatever the
 * engine, so every engine keeps the same tokens. The joined block, with its headers and closing
 * tags, must fit the context limit, so that room is shared the same way. Blocks nest only as
 * deep as the format allows (see runParallelPhase); the format's rails (threads per block,
 * blocks, depth, tokens per thread) are enforced and recorded in `limits`. The end is labelled
 * by what stopped it: `budget`, `context`, `thread-eos`, `transitions`, `abort`.
 */
export class Controller extends EventEmitter<ControllerEvents> {
  constructor(
    private readonly engine: Engine,
    readonly dialect: Dialect = threadweaver,
  ) {
    super();
  }

  async run(problem: string, prompt: string, options: ControllerOptions = {}): Promise<Trajectory> {
    const startMs = Date.now();
    const mode = options.mode ?? 'parallel';
    const promptIds = this.engine.tokenizer.encode(prompt);
    const b = new TrajectoryBuilder(promptIds, (p) =>
      this.emit('text', { text: p.text, source: p.source, tokens: p.ids.length }),
    );
    const fork = this.forkContext(b, options);
    let end: TrajectoryEnd | undefined;
    let error: Error | undefined;
    let eos = false;
    try {
      ({ end, eos } = await this.decode(fork, mode));
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
      end = 'error';
    }
    this.engine.releaseCache?.(fork.sampling.cacheScope);
    const trajectory: Trajectory = {
      problem,
      mode,
      prompt,
      promptIds,
      pieces: b.pieces,
      calls: b.calls,
      phases: b.phases,
      text: b.text,
      ids: b.ids,
      eos,
      finishReason: end ?? 'done',
      ...(error ? { error: error.message } : {}),
      ...(fork.state.limits.length ? { limits: fork.state.limits } : {}),
      startMs,
      endMs: Date.now(),
    };
    if (error) this.emit('error', { error });
    this.emit('done', { trajectory });
    return trajectory;
  }

  /** What the phases of one run share: the engine, its limits, sampling, seeds and the run's state. */
  private forkContext(b: TrajectoryBuilder, options: ControllerOptions): ForkContext {
    const state = { transitions: 0, blocks: 0, limits: [] as LimitHit[] };
    const seed = options.seed;
    return {
      engine: this.engine,
      dialect: this.dialect,
      builder: b,
      emit: this.emit.bind(this),
      maxTokens: options.maxTokens ?? this.engine.contextLength,
      contextLimit: Math.min(options.contextLimit ?? this.engine.contextLength, this.engine.contextLength),
      maxTransitions: options.maxTransitions ?? DEFAULT_MAX_TRANSITIONS,
      // One cache scope per run: prefixes are reused within this trajectory only.
      sampling: {
        ...options.controls,
        temperature: options.temperature ?? 0,
        topP: options.topP ?? 1,
        cacheScope: `run-${++runCounter}`,
      },
      seedOf: seed === undefined ? undefined : (k: number) => deriveSeed(seed, k),
      signal: options.signal,
      affinityKey: options.affinityKey,
      state,
      limit: (hit) => {
        state.limits.push(hit);
        this.emit('limit', hit);
      },
    };
  }

  /** The run's phases, sequential and parallel in turn, until something ends it. */
  private async decode(
    fork: ForkContext,
    mode: 'parallel' | 'sequential',
  ): Promise<{ end: TrajectoryEnd; eos: boolean }> {
    const { builder: b, state } = fork;
    let plan: string[] = [];
    /** Where the text after the last joined block starts. */
    let segmentStart = 0;
    for (;;) {
      if (fork.signal?.aborted) return { end: 'abort', eos: false };
      if (state.transitions++ >= fork.maxTransitions) return { end: 'transitions', eos: false };
      const room = fork.contextLimit - b.length;
      const left = fork.maxTokens - b.generated;
      if (left <= 0) return { end: 'budget', eos: false };
      if (room <= 0) return { end: 'context', eos: false };
      if (plan.length === 0) {
        const step = await this.sequentialPhase(fork, mode, Math.min(left, room), segmentStart);
        if (step.end) return { end: step.end, eos: step.eos };
        plan = step.plan;
        continue;
      }
      // Parallel phase: one continuation per plan entry, all from the same context.
      const labels = plan;
      plan = [];
      const end = await runParallelPhase(fork, labels);
      if (end) return { end, eos: false };
      segmentStart = b.text.length;
    }
  }

  /**
   * One sequential call, up to the fork trigger: how the run ends, or the plan to fork (empty:
   * keep decoding sequentially, from a context that may end in the trigger).
   */
  private async sequentialPhase(
    fork: ForkContext,
    mode: 'parallel' | 'sequential',
    maxTokens: number,
    segmentStart: number,
  ): Promise<{ end?: TrajectoryEnd; eos: boolean; plan: string[] }> {
    const { builder: b, dialect: d, state } = fork;
    const phaseStart = Date.now();
    this.emit('phase', { phase: 'sequential' });
    const prefixLength = b.length;
    const r = await this.engine.complete({
      prompt: b.context(),
      maxTokens,
      stop: mode === 'parallel' ? [d.forkTrigger] : [],
      ...fork.sampling,
      ...(fork.seedOf ? { seed: fork.seedOf(state.transitions) } : {}),
      ...(fork.signal ? { signal: fork.signal } : {}),
      ...(fork.affinityKey ? { affinity: { key: fork.affinityKey } } : {}),
      onDelta: (text) => this.emit('delta', { text }),
    });
    const call = b.record({ kind: 'sequential' }, prefixLength, [], r);
    b.append({ source: 'model', text: r.text, ids: r.ids, call: call.index });
    b.phases.push({ kind: 'sequential', startMs: phaseStart, endMs: Date.now() });
    if (r.finishReason === 'abort') return { end: 'abort', eos: false, plan: [] };
    if (r.finishReason === 'eos') return { end: 'done', eos: true, plan: [] };
    if (r.finishReason === 'length')
      return { end: b.generated >= fork.maxTokens ? 'budget' : 'context', eos: false, plan: [] };
    if (r.ids.length === 0) return { end: 'done', eos: false, plan: [] };
    if (r.matchedStop !== d.forkTrigger) return { eos: false, plan: [] };
    if (d.limits.maxBlocks !== null && state.blocks >= d.limits.maxBlocks) {
      fork.limit({
        kind: 'blocks',
        message: `block limit ${d.limits.maxBlocks} reached: the model writes on sequentially`,
      });
      return { eos: false, plan: [] };
    }
    // The plan is the last one written since the previous block.
    const plan = capPlan(fork, d.plan(b.text.slice(segmentStart)));
    if (plan.length > 0) this.emit('outlines', { block: state.blocks, numbers: plan });
    return { eos: false, plan };
  }
}
