import { EngineError } from '../errors.js';
import type { CompletionRequest, CompletionResult, Tokenizer } from '../types.js';
import { StreamStop, type ChunkSink } from './completion-stream.js';

/** One HTTP attempt of a call: the request to send, and where its chunks go. */
export type Attempt = (request: CompletionRequest, onChunk: ChunkSink) => Promise<CompletionResult>;

/** A retried attempt whose text departs from what the caller was already shown. */
class Diverged extends StreamStop {
  override name = 'Diverged';
}

/**
 * One completion call as its caller sees it across attempts: `onDelta` gets each piece once, in
 * order, and the pieces join to exactly the call's final text, however often it is retried.
 *
 * Each attempt starts from scratch; while a retry regenerates text the caller was already
 * shown, nothing is passed on, so partial text is never appended twice (a greedy or seeded call
 * regenerates the same tokens). A retry that departs from the shown text (sampling without a
 * seed, or a server that is not deterministic) is cut at once and the call goes on from the
 * shown text instead: the prompt plus the shown text's ids, with the budget that is left. The
 * shown text never ends where a later piece could change it: half a character (U+FFFD), the
 * start of a stop string (which a continuation could not complete) or of an EOS token's text
 * (which the final text drops).
 */
export class StreamedCall {
  private shown = '';
  /** The last characters of `shown` (as many as the longest held-back string). */
  private shownTail = '';
  /** Text of this attempt past `shown`, held back (see unsettled). */
  private pending = '';
  /** The ids of the shown text: the attempt's ids list and how far it ran when the text was last extended. */
  private shownIds: { base: readonly number[]; ids: readonly number[]; length: number } | undefined;
  /** Ids passed on with the deltas so far. */
  private told = 0;
  /** The prefix the current attempt continues: none, until a retry departs from the shown text. */
  private base: { text: string; ids: readonly number[]; exact: boolean } = { text: '', ids: [], exact: true };
  /** Length of base text + this attempt's text. */
  private reached = 0;
  private attemptIds: number[] | undefined = [];
  private readonly holds: string[];
  private readonly tailLength: number;
  private promptIdsCache: readonly number[] | undefined;

  constructor(
    private readonly request: CompletionRequest,
    private readonly tokenizer: Tokenizer,
    /** Called when a retry is continued from the shown text. */
    private readonly onResume?: () => void,
  ) {
    const eosTexts = tokenizer.eosIds.map((id) => tokenizer.decode([id])).filter((t) => t !== '');
    this.holds = [...(request.stop ?? []).filter((s) => s !== ''), ...eosTexts];
    this.tailLength = Math.max(1, ...this.holds.map((h) => h.length));
  }

  /** Run attempts through `attempt` until one returns (its failures are the caller's to retry). */
  async run(attempt: Attempt): Promise<CompletionResult> {
    for (;;) {
      try {
        return this.finish(await attempt(this.next(), this.onChunk));
      } catch (err) {
        if (!(err instanceof Diverged)) throw err;
        this.resume();
      }
    }
  }

  /** The call cancelled: what the caller was shown is what it generated. */
  aborted(startMs: number): CompletionResult {
    const { ids } = this.shownPrefix();
    return {
      text: this.shown,
      ids: [...ids],
      finishReason: 'abort',
      usage: { promptTokens: this.promptIds().length, completionTokens: ids.length, source: 'tokenizer' },
      startMs,
      endMs: Date.now(),
    };
  }

  private promptIds(): readonly number[] {
    const p = this.request.prompt;
    return (this.promptIdsCache ??= typeof p === 'string' ? this.tokenizer.encode(p) : p);
  }

  private next(): CompletionRequest {
    this.reached = this.base.text.length;
    this.pending = this.base.text.slice(this.shown.length);
    this.attemptIds = [];
    const { onDelta: _, ...rest } = this.request;
    if (this.base.ids.length === 0) return rest;
    return {
      ...rest,
      prompt: [...this.promptIds(), ...this.base.ids],
      maxTokens: Math.max(0, this.request.maxTokens - this.base.ids.length),
    };
  }

  private readonly onChunk: ChunkSink = (piece, ids) => {
    if (this.attemptIds) {
      if (ids) this.attemptIds.push(...ids);
      else if (piece !== '') this.attemptIds = undefined;
    }
    let text = piece;
    const start = this.reached;
    this.reached += piece.length;
    if (start < this.shown.length) {
      // A retry regenerating shown text: it must agree, and is not passed on.
      const overlap = Math.min(this.reached, this.shown.length) - start;
      if (text.slice(0, overlap) !== this.shown.slice(start, start + overlap)) {
        throw new Diverged('the retried stream departs from the text already shown');
      }
      text = text.slice(overlap);
    }
    this.pending += text;
    if (this.pending === '' || this.unsettled(this.shownTail + this.pending)) return;
    this.show(this.pending, this.attemptIds && [this.base.ids, this.attemptIds]);
    this.shownIds =
      this.attemptIds && this.base.exact
        ? { base: this.base.ids, ids: this.attemptIds, length: this.attemptIds.length }
        : undefined;
  };

  /** The attempt's result as the call's: the continued prefix put back, the rest passed on. */
  private finish(r: CompletionResult): CompletionResult {
    const text = this.base.text + r.text;
    if (!text.startsWith(this.shown)) {
      throw new EngineError(
        `the completion's text does not begin with what its stream showed (…${JSON.stringify(this.shown.slice(-40))})`,
        'internal',
      );
    }
    const ids = this.base.ids.length ? [...this.base.ids, ...r.ids] : r.ids;
    this.show(text.slice(this.shown.length), [ids]);
    if (this.base.ids.length === 0) return r;
    return {
      ...r,
      text,
      ids,
      usage: {
        ...r.usage,
        promptTokens: this.promptIds().length,
        completionTokens: ids.length,
        source: this.base.exact ? r.usage.source : 'tokenizer',
      },
    };
  }

  /**
   * Pass `delta` on, with the ids not passed on yet of `ids` (the call's ids so far, in parts
   * joined in order; undefined when the server sent none).
   */
  private show(delta: string, ids: readonly (readonly number[])[] | undefined): void {
    this.pending = '';
    if (delta === '') return;
    this.shown += delta;
    this.shownTail = (this.shownTail + delta).slice(-this.tailLength);
    let fresh: number[] | undefined;
    if (ids) {
      fresh = [];
      let at = 0;
      for (const part of ids) {
        if (at + part.length > this.told) fresh.push(...part.slice(Math.max(0, this.told - at)));
        at += part.length;
      }
      this.told = Math.max(this.told, at);
    }
    this.request.onDelta?.(delta, fresh);
  }

  /** True when the text ends where a later piece could still change it. */
  private unsettled(text: string): boolean {
    if (text.endsWith('\uFFFD')) return true;
    for (const h of this.holds) {
      for (let n = Math.min(h.length, text.length); n > 0; n--) if (text.endsWith(h.slice(0, n))) return true;
    }
    return false;
  }

  /** The shown text with ids that produce it: the stream's own when they do, else re-tokenized. */
  private shownPrefix(): { text: string; ids: readonly number[]; exact: boolean } {
    const s = this.shownIds;
    if (s && s.base.length + s.length > 0) {
      const ids = [...s.base, ...s.ids.slice(0, s.length)];
      const text = this.tokenizer.decode(ids);
      if (text.startsWith(this.shown)) return { text, ids, exact: true };
    }
    return { text: this.shown, ids: this.shown ? this.tokenizer.encode(this.shown) : [], exact: false };
  }

  private resume(): void {
    this.onResume?.();
    this.base = this.shownPrefix();
  }
}
