/**
 * The engine keeps a matched stop at the end of its text; OpenAI-style servers (vLLM) return the
 * text before it. A text stop can end inside the last token's piece, so cut at the stop's first
 * occurrence unless the text simply ends with it (a single-token stop, matched by id).
 */
export function stripMatchedStop(text: string, stop: string | undefined): string {
  if (!stop) return text;
  if (text.endsWith(stop)) return text.slice(0, text.length - stop.length);
  const at = text.indexOf(stop);
  return at >= 0 ? text.slice(0, at) : text;
}

/**
 * Streams generated text without ever sending a stop string: text that contains a stop or ends
 * with the start of one is held back until later pieces rule the stop out. (A trailing U+FFFD is
 * held too: it is usually half a character whose bytes span tokens.) `finish` releases the rest
 * of the final text, so the streamed pieces join to exactly the non-streamed text.
 */
export class StopHoldback {
  private text = '';
  private sent = 0;
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** Add a generated piece; returns the text that is now safe to send (possibly ''). */
  push(piece: string): string {
    this.text += piece;
    let hold = this.text.length;
    for (const stop of this.stops) {
      const at = this.text.indexOf(stop, Math.max(0, this.sent - stop.length + 1));
      if (at >= 0) hold = Math.min(hold, at);
      for (let n = Math.min(stop.length, this.text.length); n > 0; n--) {
        if (this.text.endsWith(stop.slice(0, n))) {
          hold = Math.min(hold, this.text.length - n);
          break;
        }
      }
    }
    if (this.text.endsWith('\uFFFD')) hold = Math.min(hold, this.text.length - 1);
    if (hold <= this.sent) return '';
    const out = this.text.slice(this.sent, hold);
    this.sent = hold;
    return out;
  }

  /** The part of the final (stop-stripped) text not sent yet. */
  finish(finalText: string): string {
    const rest = finalText.slice(this.sent);
    this.sent = finalText.length;
    return rest;
  }
}
