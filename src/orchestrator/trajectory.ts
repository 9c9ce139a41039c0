import type { CompletionResult, FinishReason, Usage } from '../engine/types.js';

/** Who produced a call: the sequential phase, or thread `thread` of block `block` (0-based). */
export type CallRole = { kind: 'sequential' } | { kind: 'thread'; block: number; thread: string };

/** One engine call as issued: its context is `prefixLength` tokens of the trajectory + `suffixIds`. */
export interface Call {
  index: number;
  role: CallRole;
  /** Prompt + completion tokens of the trajectory the call's context starts with. */
  prefixLength: number;
  /** Ids appended to that prefix for this call only (a thread's `\n<Thread>\n{n}:`). */
  suffixIds: number[];
  completionIds: number[];
  text: string;
  finishReason: FinishReason;
  matchedStop?: string;
  usage: Usage;
  startMs: number;
  endMs: number;
}

/** A run of the trajectory's completion: model output (from a call) or controller-inserted text. */
export interface Piece {
  source: 'model' | 'inserted';
  text: string;
  ids: number[];
  /** The call that produced it (model pieces). */
  call?: number;
}

/**
 * What ended a run: EOS (`done`, `thread-eos`), a limit (`budget`, `context`, `transitions`), the
 * caller's signal (`abort`), or an error thrown during the run (`error`).
 */
export type TrajectoryEnd =
  | 'done' // the model ended with EOS in the sequential phase
  | 'thread-eos' // a thread ended with EOS; tags were closed and the run ended (reference rule)
  | 'budget' // the response budget (all threads counted) ran out
  | 'context' // the context limit was reached
  | 'transitions' // the transition cap was reached
  | 'abort'
  | 'error';

/** A rail the controller enforced (see DialectLimits): the run went on without the fork or past the cut. */
export interface LimitHit {
  kind: 'threads' | 'depth' | 'blocks' | 'thread-tokens';
  /** The block concerned (the one cut, or the one whose thread hit the rail). */
  block?: number;
  thread?: string;
  message: string;
}

export interface Phase {
  kind: 'sequential' | 'parallel';
  block?: number;
  startMs: number;
  endMs: number;
}

/**
 * The record of one run: its prompt, every call and piece, the phases, the joined completion and
 * how it ended. Metrics and training rows are derived from it.
 */
export interface Trajectory {
  problem: string;
  mode: 'parallel' | 'sequential';
  /** The chat-templated prompt text and its ids. */
  prompt: string;
  promptIds: number[];
  pieces: Piece[];
  calls: Call[];
  phases: Phase[];
  /** The completion: every piece joined (without an EOS token's text). */
  text: string;
  ids: number[];
  /** True when the model emitted EOS at the end. */
  eos: boolean;
  finishReason: TrajectoryEnd;
  error?: string;
  /** Rails the controller enforced during the run (absent when none). */
  limits?: LimitHit[];
  startMs: number;
  endMs: number;
}

/** The full context ids a call saw (for training rows and tries). */
export function callContextIds(
  t: { promptIds: readonly number[]; ids: readonly number[] },
  call: { prefixLength: number; suffixIds: readonly number[] },
): number[] {
  const fromCompletion = call.prefixLength - t.promptIds.length;
  return [...t.promptIds, ...t.ids.slice(0, fromCompletion), ...call.suffixIds];
}

/** A mutable builder the controller appends to. */
export class TrajectoryBuilder {
  readonly pieces: Piece[] = [];
  readonly calls: Call[] = [];
  readonly phases: Phase[] = [];
  readonly ids: number[] = [];
  private textParts: string[] = [];

  constructor(
    readonly promptIds: readonly number[],
    /** Told of every piece as it is appended. */
    private readonly onAppend?: (piece: Piece) => void,
  ) {}

  get length(): number {
    return this.promptIds.length + this.ids.length;
  }

  get generated(): number {
    return this.calls.reduce((s, c) => s + c.completionIds.length, 0);
  }

  get text(): string {
    return this.textParts.join('');
  }

  /** Context ids for the next call. */
  context(): number[] {
    return [...this.promptIds, ...this.ids];
  }

  record(role: CallRole, prefixLength: number, suffixIds: readonly number[], r: CompletionResult): Call {
    const call: Call = {
      index: this.calls.length,
      role,
      prefixLength,
      suffixIds: [...suffixIds],
      completionIds: r.ids,
      text: r.text,
      finishReason: r.finishReason,
      ...(r.matchedStop !== undefined ? { matchedStop: r.matchedStop } : {}),
      usage: r.usage,
      startMs: r.startMs,
      endMs: r.endMs,
    };
    this.calls.push(call);
    return call;
  }

  append(piece: Piece): void {
    if (piece.ids.length === 0 && piece.text === '') return;
    this.pieces.push(piece);
    this.ids.push(...piece.ids);
    this.textParts.push(piece.text);
    this.onAppend?.(piece);
  }
}
