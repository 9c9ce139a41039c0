import { EventEmitter } from 'eventemitter3';
import { outlineNumbers } from '../format/outlines.js';
import { TAG, threadHeader, threadPrompt } from '../format/tags.js';
import { cutResult, shareBudget } from '../engine/siblings.js';
import { deriveSeed } from '../engine/sampling.js';
import type { CompletionResult, Engine } from '../engine/types.js';
import type { ControllerEvents } from './events.js';
import { TrajectoryBuilder, type Trajectory, type TrajectoryEnd } from './trajectory.js';

export interface ControllerOptions {
  /** `parallel` forks at `</Outlines>`; `sequential` never forks. */
  mode?: 'parallel' | 'sequential';
  /**
   * Response budget: tokens the model generates, summed over every call, every thread counted
   * (as in the reference). Text the controller inserts (thread headers, `\n</Thread>`,
   * separators, `\n</Parallel>`) is not generated and does not count; it does count toward
   * the context limit. Default: the context length.
   */
  maxTokens?: number;
  /**
   * Max prompt + joined completion tokens, inserted text included (default and upper bound: the
   * engine's context length). A run that reaches it is cut to fit, closing tags included.
   */
  contextLimit?: number;
  /** Max state transitions (reference: 32). */
  maxTransitions?: number;
  temperature?: number;
  topP?: number;
  /** Base seed (any safe integer); each call and each thread derives its own with `deriveSeed`. */
  seed?: number;
  signal?: AbortSignal;
}

export const DEFAULT_MAX_TRANSITIONS = 32;

const THREAD_CLOSE = `\n${TAG.threadClose}`;
const BLOCK_CLOSE = `\n${TAG.parallelClose}`;

let runCounter = 0;

/**
 * The fork/join decoding controller, with the reference controller's semantics:
 * decode until `</Outlines>` or EOS; fork one continuation per outline number with the prompt
 * context + `\n<Thread>\n{n}:`, each stopping at `</Thread>`; join them byte-exactly and continue
 * (the model writes `</Parallel>`). A thread cut by length or EOS gets `\n</Thread>`, the block
 * gets `\n</Parallel>`, and the run ends. Every call is recorded for tries and training rows.
 *
 * Limits: each thread may use the whole remaining budget; the threads of a block share it in
 * lockstep (see lockstepShares), which the controller enforces after the join whatever the
 * engine, so every engine keeps the same tokens. The joined block, with its headers and closing
 * tags, must fit the context limit, so that room is shared the same way. The end is labelled by
 * what stopped it: `budget`, `context`, `thread-eos`, `transitions`, `abort`.
 */
export class Controller extends EventEmitter<ControllerEvents> {
  constructor(private readonly engine: Engine) {
    super();
  }

  async run(problem: string, prompt: string, options: ControllerOptions = {}): Promise<Trajectory> {
    const startMs = Date.now();
    const tok = this.engine.tokenizer;
    const mode = options.mode ?? 'parallel';
    const budget = options.maxTokens ?? this.engine.contextLength;
    const contextLimit = Math.min(options.contextLimit ?? this.engine.contextLength, this.engine.contextLength);
    const maxTransitions = options.maxTransitions ?? DEFAULT_MAX_TRANSITIONS;
    const promptIds = tok.encode(prompt);
    const b = new TrajectoryBuilder(promptIds, (p) => this.emit('text', { text: p.text, source: p.source, tokens: p.ids.length }));
    // One cache scope per run: prefixes are reused within this trajectory only.
    const cacheScope = `run-${++runCounter}`;
    const sampling = { temperature: options.temperature ?? 0, topP: options.topP ?? 1, cacheScope };
    const seedOf = (k: number) => (options.seed === undefined ? undefined : deriveSeed(options.seed, k));
    const insert = (text: string) => b.append({ source: 'inserted', text, ids: tok.encode(text) });

    let end: TrajectoryEnd | undefined;
    let error: Error | undefined;
    let eos = false;
    let block = 0;
    let pending: string[] = [];
    let transitions = 0;
    /** Where the text after the last joined block starts. */
    let segmentStart = 0;

    try {
      while (!end) {
        if (options.signal?.aborted) {
          end = 'abort';
          break;
        }
        if (transitions++ >= maxTransitions) {
          end = 'transitions';
          break;
        }
        const room = contextLimit - b.length;
        const left = budget - b.generated;
        if (left <= 0) {
          end = 'budget';
          break;
        }
        if (room <= 0) {
          end = 'context';
          break;
        }

        if (pending.length === 0) {
          // Sequential phase.
          const phaseStart = Date.now();
          this.emit('phase', { phase: 'sequential' });
          const prefixLength = b.length;
          const r = await this.engine.complete({
            prompt: b.context(),
            maxTokens: Math.min(left, room),
            stop: mode === 'parallel' ? [TAG.outlinesClose] : [],
            ...sampling,
            ...(options.seed !== undefined ? { seed: seedOf(transitions) } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
            onDelta: (text) => this.emit('delta', { text }),
          });
          const call = b.record({ kind: 'sequential' }, prefixLength, [], r);
          b.append({ source: 'model', text: r.text, ids: r.ids, call: call.index });
          b.phases.push({ kind: 'sequential', startMs: phaseStart, endMs: Date.now() });
          if (r.finishReason === 'abort') end = 'abort';
          else if (r.finishReason === 'eos') {
            eos = true;
            end = 'done';
          } else if (r.finishReason === 'length') end = b.generated >= budget ? 'budget' : 'context';
          else if (r.ids.length === 0) end = 'done';
          else if (r.matchedStop === TAG.outlinesClose) {
            // The plan is the last <Outlines> written since the previous block.
            pending = outlineNumbers(b.text.slice(segmentStart));
            if (pending.length > 0) this.emit('outlines', { block, numbers: pending });
            // No numbers: keep decoding sequentially from a context that ends in </Outlines>.
          }
          continue;
        }

        // Parallel phase: one continuation per outline number, all from the same context.
        const numbers = pending;
        pending = [];
        const phaseStart = Date.now();
        const prefixLength = b.length;
        const suffixes = numbers.map((n) => tok.encode(threadPrompt(n)));
        // What the threads may write together: the remaining budget, and the context room once the
        // joined block has every header, a closing `\n</Thread>` per thread and `\n</Parallel>`.
        const blockTags = numbers.reduce((s, n, i) => s + tok.count(threadHeader(n, i === 0)), 0) + numbers.length * tok.count(THREAD_CLOSE) + tok.count(BLOCK_CLOSE);
        const contextPool = contextLimit - prefixLength - blockTags;
        if (contextPool <= 0) {
          end = 'context';
          break;
        }
        const pool = Math.min(left, contextPool);
        this.emit('phase', { phase: 'parallel', block });
        numbers.forEach((n) => this.emit('thread:start', { block, thread: n }));
        const raw: CompletionResult[] = await this.engine.completeSiblings(b.context(), suffixes, {
          // Each thread may use the whole pool; together they share it (in lockstep).
          maxTokens: pool,
          maxTotalTokens: pool,
          stop: [TAG.threadClose],
          ...sampling,
          ...(options.seed !== undefined ? { seeds: numbers.map((_, i) => seedOf(1000 * (block + 1) + i)) } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          onDelta: (i, text) => this.emit('thread:delta', { block, thread: numbers[i]!, text }),
        });
        // Enforced here too, whatever the engine did with maxTotalTokens.
        const shares = shareBudget(raw.map((r) => r.ids.length), pool);
        const results = raw.map((r, i) => cutResult(r, shares[i]!, (ids) => tok.decode(ids)));
        let cut = false;
        let aborted = false;
        const joined: string[] = [];
        results.forEach((r, i) => {
          const n = numbers[i]!;
          const call = b.record({ kind: 'thread', block, thread: n }, prefixLength, suffixes[i]!, r);
          this.emit('thread:end', { block, thread: n, text: r.text, finishReason: r.finishReason, tokens: r.ids.length, ms: r.endMs - r.startMs });
          const header = threadHeader(n, i === 0);
          insert(header);
          b.append({ source: 'model', text: r.text, ids: r.ids, call: call.index });
          joined.push(header + r.text);
          if (r.finishReason === 'abort') aborted = true;
          if (r.finishReason !== 'stop') cut = true;
          if (!(r.finishReason === 'stop' && r.matchedStop === TAG.threadClose)) {
            insert(THREAD_CLOSE);
            joined.push(THREAD_CLOSE);
          }
        });
        const overBudget = b.generated >= budget;
        if (cut || overBudget) {
          insert(BLOCK_CLOSE);
          end = aborted
            ? 'abort'
            : results.some((r) => r.finishReason === 'eos')
              ? 'thread-eos'
              : overBudget
                ? 'budget'
                : 'context';
        } else {
          insert('\n');
          segmentStart = b.text.length;
        }
        b.phases.push({ kind: 'parallel', block, startMs: phaseStart, endMs: Date.now() });
        this.emit('join', { block, text: joined.join('') });
        block++;
      }
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
      end = 'error';
    }

    this.engine.releaseCache?.(cacheScope);
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
      startMs,
      endMs: Date.now(),
    };
    if (error) this.emit('error', { error });
    this.emit('done', { trajectory });
    return trajectory;
  }
}
