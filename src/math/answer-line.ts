/**
 * Answers written without a box, in the conventions instructed and few-shot prompted models use:
 * "Final Answer: The final answer is $X$. I hope it is correct.", "The answer is X", "Answer: X",
 * and failing those the last math of the final sentence. Used by the `lenient` extraction policy.
 */

/** A math span in prose: its content and where the whole span sits. */
export interface MathSpan {
  content: string;
  start: number;
  end: number;
}

/**
 * Math spans in order: `$$…$$` and `\[…\]` may cover several lines; `$…$` and `\(…\)` must close on
 * the line they open (an inline span never crosses a line break). `\$` is a dollar sign, not a delimiter.
 */
export function mathSpans(text: string): MathSpan[] {
  const spans: MathSpan[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') {
      const n = text[i + 1];
      if (n === '[' || n === '(') {
        const j = text.indexOf(n === '[' ? '\\]' : '\\)', i + 2);
        const content = j < 0 ? '' : text.slice(i + 2, j);
        if (j >= 0 && (n === '[' || !content.includes('\n'))) {
          spans.push({ content, start: i, end: j + 2 });
          i = j + 2;
          continue;
        }
      }
      i += 2;
      continue;
    }
    if (c === '$') {
      const width = text[i + 1] === '$' ? 2 : 1;
      const j = closingDollar(text, i + width, width === 2);
      if (j >= 0) {
        spans.push({ content: text.slice(i + width, j), start: i, end: j + width });
        i = j + width;
        continue;
      }
      i += width;
      continue;
    }
    i++;
  }
  return spans;
}

function closingDollar(text: string, from: number, display: boolean): number {
  for (let k = from; k < text.length; k++) {
    const c = text[k];
    if (c === '\\') k++;
    else if (!display && c === '\n') return -1;
    else if (c === '$' && (!display || text[k + 1] === '$')) return k;
  }
  return -1;
}

const MASK = '\u0000';

/** The text with every math span blanked out (same length), so prose rules never look inside math. */
function masked(text: string, spans: readonly MathSpan[]): string {
  let out = '';
  let from = 0;
  for (const s of spans) {
    out += text.slice(from, s.start) + MASK.repeat(s.end - s.start);
    from = s.end;
  }
  return out + text.slice(from);
}

/** Prose outside the math: a word of two or more letters that is not a conjunction. */
function hasProse(text: string, spans: readonly MathSpan[]): boolean {
  return /\b(?!(?:and|or)\b)[A-Za-z]{2,}/i.test(masked(text, spans));
}

// Anchors in the order they are tried; the last occurrence of an anchor wins.
const ANCHORS: readonly RegExp[] = [/final answer is\b/gi, /\banswer is\b/gi, /\banswer\s*:/gi];

/** Chat-template tokens end the response; what follows (a hallucinated next turn) is not part of it. */
const END_OF_TURN = /<\|[A-Za-z_]+\|>/;

/** The response up to its first chat-template token. */
export function withinTurn(text: string): string {
  return text.split(END_OF_TURN)[0]!;
}

/** The answer a response states without a box, or null. See the module comment for the rules. */
export function statedAnswer(text: string): string | null {
  const region = withinTurn(text);
  for (const anchor of ANCHORS) {
    const found = anchoredAnswer(region, anchor);
    if (found) return found;
  }
  return finalSentenceMath(region);
}

/** For a string that is a bare answer unless it reads as prose (`Answer $ 9 $`, `28 percent` stays). */
export function statedAnswerOfText(text: string): string | null {
  const region = withinTurn(text);
  for (const anchor of ANCHORS) {
    const found = anchoredAnswer(region, anchor);
    if (found) return found;
  }
  return hasProse(region, mathSpans(region)) ? finalSentenceMath(region) : null;
}

function anchoredAnswer(text: string, anchor: RegExp): string | null {
  let last: RegExpExecArray | undefined;
  for (const m of text.matchAll(anchor)) last = m;
  if (!last) return null;
  const rest = text.slice(last.index + last[0].length).replace(/^[\s:*]+/, '');
  const phrase = answerPhrase(firstSentence(rest));
  return phrase === '' ? null : phrase;
}

/** Up to the first sentence end or line break outside math. */
function firstSentence(text: string): string {
  const m = masked(text, mathSpans(text));
  const end = m.search(/[.!?](?=\s|$)|\n/);
  return (end < 0 ? text : text.slice(0, end)).trim();
}

/**
 * The value in an anchored phrase: the phrase itself when it is bare (`$28\%$`, `12,000,023`); the
 * part after the last "is" when it is a sentence (`The largest $n$ is 34`); else its last math.
 */
function answerPhrase(phrase: string): string {
  const spans = mathSpans(phrase);
  if (!hasProse(phrase, spans)) return phrase;
  const m = masked(phrase, spans);
  const is = [...m.matchAll(/\bis\b/g)].at(-1);
  if (is) {
    const tail = phrase.slice(is.index + 2).trim();
    if (tail) return tail;
  }
  return spans.at(-1)?.content.trim() ?? phrase;
}

/** The last math span of the final sentence, or null when that sentence has none. */
function finalSentenceMath(text: string): string | null {
  const spans = mathSpans(text);
  const m = masked(text, spans).replace(/[\s.!?]+$/, '');
  let start = 0;
  for (const b of m.matchAll(/[.!?](?=\s)|\n\s*\n/g)) start = b.index + b[0].length;
  const last = spans.filter((s) => s.start >= start && s.start < m.length).at(-1);
  return last ? last.content.trim() : null;
}
