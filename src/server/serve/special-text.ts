import { HFTokenizer } from '../../engine/tokenizer.js';
import type { Tokenizer } from '../../engine/types.js';

/** How a response spells special tokens: vLLM's `skip_special_tokens` and `spaces_between_special_tokens`. */
export interface SpecialTokenOptions {
  /** Leave special tokens out of the text. */
  skip: boolean;
  /** When they stay, separate each from the text around it by one space. */
  spaces: boolean;
}

const specialTexts = new WeakMap<HFTokenizer, readonly string[]>();

/**
 * The text of every token the tokenizer flags special (`<|im_start|>`, `<|endoftext|>`, ...).
 * Added tokens that are not special, such as the trajectory tags, are ordinary text here.
 */
export function specialTokenTexts(tokenizer: Tokenizer): readonly string[] {
  if (!(tokenizer instanceof HFTokenizer)) return [];
  let texts = specialTexts.get(tokenizer);
  if (!texts) {
    texts = [...new Set(tokenizer.inner.all_special_tokens)].filter((t) => t.length > 0);
    specialTexts.set(tokenizer, texts);
  }
  return texts;
}

/**
 * Rewrites generated text (as the engine decodes it, special tokens kept) into the response's
 * text. The text is read as runs of ordinary text and special tokens: `skip` drops the special
 * tokens; otherwise `spaces` joins the pieces with single spaces, as vLLM joins its sub-texts.
 * Feed it in pieces with `push` and call `end` once: a piece that ends with the start of a
 * special token holds that start back, so the pieces join to exactly what the whole text gives.
 */
export class SpecialTokenText {
  private pending = '';
  private wroteAny = false;
  private afterSpecial = false;
  private readonly active: boolean;

  constructor(
    private readonly specials: readonly string[],
    private readonly options: SpecialTokenOptions,
  ) {
    this.active = specials.length > 0 && (options.skip || options.spaces);
  }

  /** The whole text at once. */
  static rewrite(text: string, specials: readonly string[], options: SpecialTokenOptions): string {
    const t = new SpecialTokenText(specials, options);
    return t.push(text) + t.end();
  }

  /** Add a piece; returns the text that is now final (possibly ''). */
  push(piece: string): string {
    return this.active ? this.scan(this.pending + piece, false) : piece;
  }

  /** The held-back rest: the text is complete, so a partial special token is plain text. */
  end(): string {
    return this.active ? this.scan(this.pending, true) : '';
  }

  /** Rewrite `text` up to what more text could still change (unless `complete`); keep that as pending. */
  private scan(text: string, complete: boolean): string {
    let out = '';
    for (let found = this.firstSpecial(text, complete); found; found = this.firstSpecial(text, complete)) {
      if (found.open) {
        this.pending = text.slice(found.at);
        return out + this.plain(text.slice(0, found.at));
      }
      out += this.plain(text.slice(0, found.at)) + this.special(found.token);
      text = text.slice(found.at + found.token.length);
    }
    const hold = complete ? 0 : this.partialTail(text);
    this.pending = text.slice(text.length - hold);
    return out + this.plain(text.slice(0, text.length - hold));
  }

  private plain(text: string): string {
    if (!text) return '';
    const sep = this.options.spaces && this.afterSpecial ? ' ' : '';
    this.wroteAny = true;
    this.afterSpecial = false;
    return sep + text;
  }

  private special(token: string): string {
    if (this.options.skip) return '';
    const sep = this.options.spaces && this.wroteAny ? ' ' : '';
    this.wroteAny = true;
    this.afterSpecial = true;
    return sep + token;
  }

  /**
   * The earliest special token in `text`, the longest one where several start at the same place.
   * `open`: a longer special token could still complete there once more text comes.
   */
  private firstSpecial(text: string, complete = false): { at: number; token: string; open: boolean } | undefined {
    let best: { at: number; token: string } | undefined;
    for (const s of this.specials) {
      const at = text.indexOf(s);
      if (at >= 0 && (!best || at < best.at || (at === best.at && s.length > best.token.length)))
        best = { at, token: s };
    }
    if (!best) return undefined;
    const tail = text.slice(best.at);
    const open = !complete && this.specials.some((s) => s.length > tail.length && s.startsWith(tail));
    return { ...best, open };
  }

  /** Length of the longest end of `text` that is the start of a special token. */
  private partialTail(text: string): number {
    let hold = 0;
    for (const s of this.specials) {
      for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
        if (text.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    return hold;
  }
}
