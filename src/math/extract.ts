/**
 * Final-answer extraction from a model response: the last `\boxed{...}` (or `\fbox{...}`) after the
 * reasoning, with adjacent boxes joined into one list answer. The `lenient` policy falls back to the
 * answer lines models write without a box (see answer-line.ts).
 */
import { statedAnswer, statedAnswerOfText, withinTurn } from './answer-line.js';

/**
 * How the final answer is found: `boxed` takes the last box after `</think>` and nothing else;
 * `lenient` does the same and, when there is no box, reads the answer line (docs/grading.md).
 */
export const EXTRACT_POLICIES = ['boxed', 'lenient'] as const;
/** A final-answer extraction policy (see EXTRACT_POLICIES). */
export type ExtractPolicy = (typeof EXTRACT_POLICIES)[number];

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';

/** One box found in a text: its content and where the whole command sits. */
export interface BoxSpan {
  content: string;
  /** Index of the backslash that starts the command. */
  start: number;
  /** Index just past the box (past the closing brace, or past the bare argument). */
  end: number;
}

// `\boxed` / `\fbox` not followed by another letter (so `\boxedtext` is not a box).
const BOX_COMMAND = /\\(?:boxed|fbox)(?![A-Za-z])/g;
const HAS_BOX = new RegExp(BOX_COMMAND.source);

/**
 * Text between two boxes that still reads as one answer list: commas, semicolons, the words
 * "and"/"or" (bare or in `\text{}`), LaTeX spacing, and math delimiters. At least one real
 * separator (`,` `;` and/or `\quad`) is required, so two boxes on separate lines stay separate.
 * The next box's own label may end the gap (`x = \boxed{1} and y = \boxed{2}`).
 */
const JOIN_GAP =
  /^(?:\s|\$|\\[,;:! ]|\\q?quad|\\\[|\\\]|\\\(|\\\)|,|;|\band\b|\bor\b|\\text\{\s*(?:and|or|,)?\s*\})*(?:[A-Za-z](?:_(?:\{\w+\}|\w))?\s*=\s*)?$/;
const JOIN_SEPARATOR = /,|;|\band\b|\bor\b|\\q?quad/;

/**
 * `<Think>`/`</Think>` (a legacy capitalised tag that ThreadWeaver checkpoints carry as an added
 * token) read as `<think>`/`</think>`, as the reference graders rewrite them before scoring.
 * Same length, so offsets in the result are offsets in the text.
 */
export function normalizeThinkTags(text: string): string {
  return text.replaceAll('<Think>', THINK_OPEN).replaceAll('</Think>', THINK_CLOSE);
}

/**
 * The part of a response that may hold the final answer. After the last `</think>` when there is
 * one; when a `<think>` is opened but never closed the run was truncated mid-thought, so there is
 * no answer region at all (a stray box inside an unfinished thought is not a final answer).
 */
export function answerRegion(response: string): string | null {
  const text = normalizeThinkTags(response);
  const close = text.lastIndexOf(THINK_CLOSE);
  if (close >= 0) return text.slice(close + THINK_CLOSE.length);
  if (text.includes(THINK_OPEN)) return null;
  return text;
}

/** Every well-formed box in `text`, in order. Unclosed boxes are skipped. No `</think>` handling. */
export function boxSpans(text: string): BoxSpan[] {
  const spans: BoxSpan[] = [];
  for (const m of text.matchAll(BOX_COMMAND)) {
    const start = m.index;
    let i = start + m[0].length;
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] === '{') {
      const close = matchingBrace(text, i);
      if (close < 0) continue;
      spans.push({ content: text.slice(i + 1, close).trim(), start, end: close + 1 });
    } else if (i > start + m[0].length) {
      // `\boxed 5`: the argument runs to the end of the math (`$`) or the line.
      const rest = text.slice(i);
      const stop = rest.search(/\$|\n|\\\]|\\\)/);
      const content = (stop < 0 ? rest : rest.slice(0, stop)).trim();
      if (content) spans.push({ content, start, end: i + (stop < 0 ? rest.length : stop) });
    }
  }
  return spans;
}

/** Contents of every well-formed box in `text`, in order (the whole text is searched). */
export function extractBoxedAll(text: string): string[] {
  return boxSpans(text).map((s) => s.content);
}

/**
 * The final answer of a response: the content of the last box in the answer region (see
 * `answerRegion`). Boxes immediately before it, separated only by `,`/`;`/"and"/"or"/`\quad`,
 * are joined with ", " so `\boxed{1}, \boxed{2}` yields "1, 2". Without a box: null under the
 * `boxed` policy, the stated answer line under `lenient`.
 */
export function extractAnswer(text: string, policy: ExtractPolicy = 'boxed'): string | null {
  const region = answerRegion(text);
  if (region === null) return null;
  if (policy === 'boxed') return lastBoxes(region);
  const turn = withinTurn(region);
  return lastBoxes(turn) ?? statedAnswer(turn);
}

/** The last box of `region` joined with the boxes listed right before it; null without a box. */
function lastBoxes(region: string): string | null {
  const spans = boxSpans(region);
  const last = spans.at(-1);
  if (!last) return null;
  const parts = [last.content];
  for (let k = spans.length - 2; k >= 0; k--) {
    const gap = region.slice(spans[k]!.end, spans[k + 1]!.start);
    if (!JOIN_GAP.test(gap) || !JOIN_SEPARATOR.test(gap)) break;
    parts.unshift(spans[k]!.content);
  }
  return parts.join(', ');
}

/** True when the text is a model response (has a box or think tags) rather than a bare answer. */
export function isResponse(text: string): boolean {
  const t = normalizeThinkTags(text);
  return HAS_BOX.test(t) || t.includes(THINK_OPEN) || t.includes(THINK_CLOSE);
}

/**
 * The answer to grade from a string that is either a bare answer or a whole response. Under
 * `lenient`, a string that reads as prose (an answer line, or words around math) is a response too.
 */
export function answerOf(text: string, policy: ExtractPolicy = 'boxed'): string | null {
  if (isResponse(text)) return extractAnswer(text, policy);
  return policy === 'lenient' ? (statedAnswerOfText(text) ?? text) : text;
}

/** Index of the `}` closing the `{` at `open`, honouring `\{`/`\}` escapes; -1 when unclosed. */
export function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}
