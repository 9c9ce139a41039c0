import { ThreadweaverError } from '../../errors.js';
/** The reasoning span's tags (a format's own, e.g. Multiverse's `<Think>`; default `<think>`). */
export interface ThinkTags {
  open: string;
  close: string;
}
const THINK: ThinkTags = { open: '<think>', close: '</think>' };

/** A response's two channels: the reasoning (`<think>` … `</think>`, tags included) and the content after it. */
export interface Channels {
  reasoning: string;
  content: string;
}

/**
 * Split a response the way vLLM's reasoning parsers do: when it opens with `<think>` (after
 * whitespace), the reasoning runs through the first `</think>` (all of the text if it never
 * closes) and the content is the rest; otherwise it is all content. reasoning + content is the text.
 */
export function splitReasoning(text: string, think: ThinkTags | null = THINK): Channels {
  const start = text.length - text.trimStart().length;
  if (!think || !text.startsWith(think.open, start)) return { reasoning: '', content: text };
  const close = text.indexOf(think.close, start + think.open.length);
  const end = close < 0 ? text.length : close + think.close.length;
  return { reasoning: text.slice(0, end), content: text.slice(end) };
}

/**
 * splitReasoning for text that arrives in pieces: each push returns the new part of each channel,
 * and the parts joined equal splitReasoning of the whole text. Only the opening is held back,
 * until it is known whether the text starts with `<think>`.
 */
export class ReasoningSplitter {
  private text = '';
  private state: 'undecided' | 'reasoning' | 'content' = 'undecided';
  private sent = 0;

  constructor(private readonly think: ThinkTags | null = THINK) {}

  push(piece: string): Channels {
    this.text += piece;
    const out: Channels = { reasoning: '', content: '' };
    if (this.state === 'undecided') {
      const head = this.text.trimStart();
      const open = this.think?.open;
      if (open && head.length < open.length && open.startsWith(head)) return out;
      this.state = open && head.startsWith(open) ? 'reasoning' : 'content';
    }
    if (this.state === 'reasoning') {
      const CLOSE = this.think!.close;
      const close = this.text.indexOf(CLOSE, Math.max(0, this.sent - CLOSE.length + 1));
      if (close < 0) {
        out.reasoning = this.text.slice(this.sent);
        this.sent = this.text.length;
        return out;
      }
      const end = close + CLOSE.length;
      out.reasoning = this.text.slice(this.sent, end);
      this.sent = end;
      this.state = 'content';
    }
    out.content = this.text.slice(this.sent);
    this.sent = this.text.length;
    return out;
  }

  /** The held-back rest at the end of the text (an opening that turned out not to be `<think>`). */
  finish(): Channels {
    if (this.state !== 'undecided') return { reasoning: '', content: '' };
    this.state = 'content';
    const content = this.text.slice(this.sent);
    this.sent = this.text.length;
    return { reasoning: '', content };
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
