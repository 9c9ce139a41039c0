import { ThreadweaverError } from '../../errors.js';
/** The reasoning span's tags (a format's own, e.g. Multiverse's `<Think>`; default `<think>`). */
export interface ThinkTags {
  open: string;
  close: string;
}
const THINK: ThinkTags = { open: '<think>', close: '</think>' };

/** A response's two channels: the reasoning and the content after it. */
export interface Channels {
  reasoning: string;
  content: string;
}

/** How the reasoning is cut out of a response. */
export interface ReasoningSplit {
  /** The format's reasoning tags (default `<think>`); null: the format has none, all is content. */
  think?: ThinkTags | null | undefined;
  /** Keep the tags in the reasoning (default: left out, as vLLM's reasoning parsers do). */
  keepTags?: boolean | undefined;
}

/**
 * Where a response's reasoning is: when it opens with `<think>` (after whitespace), from the
 * start of the text through the first `</think>` (all of the text if it never closes);
 * `inner` is the part between the tags. Undefined when the text does not open with `<think>`.
 */
export function reasoningSpan(
  text: string,
  think: ThinkTags | null | undefined = THINK,
): { end: number; inner: { start: number; end: number } } | undefined {
  const start = text.length - text.trimStart().length;
  if (!think || !text.startsWith(think.open, start)) return undefined;
  const close = text.indexOf(think.close, start + think.open.length);
  const innerEnd = close < 0 ? text.length : close;
  return {
    end: close < 0 ? text.length : close + think.close.length,
    inner: { start: start + think.open.length, end: innerEnd },
  };
}

/**
 * Split a response the way vLLM's reasoning parsers do: when it opens with `<think>`, the
 * reasoning is the text inside the tags (through the end if it never closes) and the content is
 * what follows `</think>`; otherwise it is all content. With `keepTags` the reasoning is the
 * span with its tags, so that reasoning + content is the text.
 */
export function splitReasoning(text: string, split: ReasoningSplit = {}): Channels {
  const span = reasoningSpan(text, split.think === undefined ? THINK : split.think);
  if (!span) return { reasoning: '', content: text };
  const reasoning = split.keepTags ? text.slice(0, span.end) : text.slice(span.inner.start, span.inner.end);
  return { reasoning, content: text.slice(span.end) };
}

/**
 * splitReasoning for text that arrives in pieces: each push returns the new part of each channel,
 * and the parts joined equal splitReasoning of the whole text. Held back: the opening, until it
 * is known whether the text starts with `<think>`, and (tags left out) what could be the start of
 * `</think>`.
 */
export class ReasoningSplitter {
  private text = '';
  private state: 'undecided' | 'reasoning' | 'content' = 'undecided';
  private sent = 0;
  private readonly think: ThinkTags | null;
  private readonly keepTags: boolean;

  constructor(split: ReasoningSplit = {}) {
    this.think = split.think === undefined ? THINK : split.think;
    this.keepTags = split.keepTags ?? false;
  }

  push(piece: string): Channels {
    this.text += piece;
    const out: Channels = { reasoning: '', content: '' };
    if (this.state === 'undecided') {
      const head = this.text.trimStart();
      const open = this.think?.open;
      if (open && head.length < open.length && open.startsWith(head)) return out;
      this.state = open && head.startsWith(open) ? 'reasoning' : 'content';
      // Without the tags, the reasoning starts after `<think>` (the whitespace before it is dropped).
      if (this.state === 'reasoning' && !this.keepTags) this.sent = this.text.length - head.length + open!.length;
    }
    if (this.state === 'reasoning') {
      const CLOSE = this.think!.close;
      const close = this.text.indexOf(CLOSE, Math.max(0, this.sent - CLOSE.length + 1));
      if (close < 0) {
        let upTo = this.text.length;
        if (!this.keepTags) {
          // The start of `</think>` waits: it is not reasoning if the tag completes.
          for (let n = Math.min(CLOSE.length - 1, upTo - this.sent); n > 0; n--) {
            if (this.text.endsWith(CLOSE.slice(0, n))) {
              upTo -= n;
              break;
            }
          }
        }
        out.reasoning = this.text.slice(this.sent, upTo);
        this.sent = upTo;
        return out;
      }
      const end = close + CLOSE.length;
      out.reasoning = this.text.slice(this.sent, this.keepTags ? end : close);
      this.sent = end;
      this.state = 'content';
    }
    out.content = this.text.slice(this.sent);
    this.sent = this.text.length;
    return out;
  }

  /** The held-back rest at the end of the text (an opening that turned out not to be `<think>`, a partial `</think>`). */
  finish(): Channels {
    const rest = this.text.slice(this.sent);
    this.sent = this.text.length;
    if (this.state === 'reasoning') return { reasoning: rest, content: '' };
    this.state = 'content';
    return { reasoning: '', content: rest };
  }
}

/**
 * The trajectory's text in order, as early as it can be known. Sequential text is previewed as
 * the engine decodes it (`preview`); every piece the trajectory is made of then arrives whole
 * (`append`, the controller's `text` event), in order, and only the part the preview has not
 * already sent goes out. A trailing U+FFFD is never previewed: it is usually half a character
 * whose bytes span tokens, which the call's final text decodes whole.
 */
export class OrderedText {
  private previewed = '';
  private sentPreview = 0;

  /** A live sequential delta; returns what may be sent now. */
  preview(delta: string): string {
    this.previewed += delta;
    let safe = this.previewed.length;
    while (safe > this.sentPreview && this.previewed[safe - 1] === '\uFFFD') safe--;
    const out = this.previewed.slice(this.sentPreview, safe);
    this.sentPreview = Math.max(this.sentPreview, safe);
    return out;
  }

  /** A piece of the trajectory; returns what was not sent yet. */
  append(piece: string): string {
    const sent = this.previewed.slice(0, this.sentPreview);
    if (!piece.startsWith(sent)) {
      // Only an engine whose deltas do not add up to its text gets here; what went out cannot
      // be taken back, so the stream says so rather than silently differ.
      throw new ThreadweaverError(
        `the streamed preview ${JSON.stringify(sent.slice(-40))} is not how the call's text begins`,
      );
    }
    this.previewed = '';
    this.sentPreview = 0;
    return piece.slice(sent.length);
  }
}
