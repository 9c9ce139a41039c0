import { EventEmitter } from 'eventemitter3';
import { outlineNumbers } from '../format/outlines.js';
import { TAG, threadHeader, threadPrompt } from '../format/tags.js';
import { deriveSeed } from '../engine/sampling.js';
import type { CompletionResult, Engine } from '../engine/types.js';
import type { ControllerEvents } from './events.js';
import { TrajectoryBuilder, type Trajectory, type TrajectoryEnd } from './trajectory.js';

export interface ControllerOptions {
  /** `parallel` forks at `</Outlines>`; `sequential` never forks. */
  mode?: 'parallel' | 'sequential';
  /** Response budget: generated tokens summed over every call, threads included. */
  maxTokens?: number;
  /** Max prompt + joined completion tokens (default: the engine's context length). */
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

let runCounter = 0;

/**
 * The fork/join decoding controller, with the reference controller's semantics:
 * decode until `</Outlines>` or EOS; fork one continuation per outline number with the prompt
 * context + `\n<Thread>\n{n}:`, each stopping at `</Thread>`; join them byte-exactly and continue
 * (the model writes `</Parallel>`). A thread cut by length or EOS gets `\n</Thread>`, the block
 * gets `\n</Parallel>`, and the run ends. Every call is recorded for tries and training rows.
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
    const b = new TrajectoryBuilder(promptIds);
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
            pending = outlineNumbers(b.text);
            if (pending.length > 0) this.emit('outlines', { block, numbers: pending });
            // No numbers: keep decoding sequentially from a context that ends in </Outlines>.
          }
          continue;
        }

        // Parallel phase: one continuation per outline number, all from the same context.
        const numbers = pending;
        pending = [];
        const phaseStart = Date.now();
        this.emit('phase', { phase: 'parallel', block });
        const prefixLength = b.length;
        const suffixes = numbers.map((n) => tok.encode(threadPrompt(n)));
        const longest = Math.max(...suffixes.map((s) => s.length));
        const threadRoom = contextLimit - prefixLength - longest;
        if (threadRoom <= 0) {
          end = 'context';
          break;
        }
        numbers.forEach((n) => this.emit('thread:start', { block, thread: n }));
        const results: CompletionResult[] = await this.engine.completeSiblings(b.context(), suffixes, {
          maxTokens: Math.min(left, threadRoom),
          maxTotalTokens: left,
          stop: [TAG.threadClose],
          ...sampling,
          ...(options.seed !== undefined ? { seeds: numbers.map((_, i) => seedOf(1000 * (block + 1) + i)) } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          onDelta: (i, text) => this.emit('thread:delta', { block, thread: numbers[i]!, text }),
        });
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
            const close = `\n${TAG.threadClose}`;
            insert(close);
            joined.push(close);
          }
        });
        const overBudget = b.generated >= budget;
        if (cut || overBudget) {
          insert(`\n${TAG.parallelClose}`);
          end = aborted
            ? 'abort'
            : results.some((r) => r.finishReason === 'eos')
              ? 'thread-eos'
              : overBudget
                ? 'budget'
                : 'context';
        } else {
          insert('\n');
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
