import { HFTokenizer } from '../../engine/tokenizer.js';
import type { Tokenizer } from '../../engine/types.js';
import { badRequest } from '../http/errors.js';

/** The 400 of a prompt with no room left for an answer; `size` is its token count, or a lower bound of it. */
export function contextTooLong(
  contextLength: number,
  size: number | { atLeast: number },
  param: string,
  subject = 'the prompt',
) {
  const tokens = typeof size === 'number' ? `${size}` : `at least ${size.atLeast}`;
  return badRequest(
    `this model's maximum context length is ${contextLength} tokens, and ${subject} has ${tokens} tokens: shorten it so the model can answer`,
    param,
    'context_length_exceeded',
  );
}

const longestTokens = new WeakMap<HFTokenizer, number>();

/** The most UTF-8 bytes one token's text can take (its vocabulary entry's length bounds it); undefined when unknown. */
function longestTokenBytes(tokenizer: Tokenizer): number | undefined {
  if (!(tokenizer instanceof HFTokenizer)) return undefined;
  let most = longestTokens.get(tokenizer);
  if (most === undefined) {
    most = 1;
    for (const key of tokenizer.inner.get_vocab().keys()) most = Math.max(most, Buffer.byteLength(key));
    longestTokens.set(tokenizer, most);
  }
  return most;
}

/** Text tokenized in one go at most: a piece this long takes a few milliseconds. */
export const TOKENIZE_CHUNK_CHARS = 8_192;

/** The text in pieces of at most `size` characters, cut after whitespace where there is some. */
function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + size);
    if (end < text.length) {
      const space = text.slice(at, end).search(/\s\S*$/);
      if (space > 0) end = at + space + 1;
    }
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

/**
 * Refuse early a request whose text cannot fit in `contextLength` tokens, without ever
 * tokenizing much of it in one go: first a bound from its length alone (no token holds more
 * bytes than the longest in the vocabulary), then a count piece by piece that yields to other
 * requests between pieces and stops once the text is clearly over (each cut between pieces can
 * change the count by a token, so a margin of one per piece is allowed). Text that passes fits,
 * or is within that margin: the caller's exact count decides.
 */
export async function admitText(
  tokenizer: Tokenizer,
  text: string,
  contextLength: number,
  param: string,
  subject?: string,
): Promise<void> {
  const most = longestTokenBytes(tokenizer);
  if (most !== undefined) {
    const atLeast = Math.ceil(Buffer.byteLength(text) / most);
    if (atLeast >= contextLength) throw contextTooLong(contextLength, { atLeast }, param, subject);
  }
  if (text.length <= TOKENIZE_CHUNK_CHARS) return;
  const parts = pieces(text, TOKENIZE_CHUNK_CHARS);
  let counted = 0;
  for (const [i, part] of parts.entries()) {
    await new Promise((resolve) => setImmediate(resolve));
    counted += tokenizer.count(part);
    if (counted - (i + 1) >= contextLength) {
      throw contextTooLong(contextLength, { atLeast: counted - (i + 1) }, param, subject);
    }
  }
}
