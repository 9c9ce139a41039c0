/**
 * String-level normalization of a final answer, applied to prediction and gold alike, before the
 * answer is split into structure (see structure.ts). Each rule removes notation that does not
 * change the answer's meaning; the policies behind the lossy ones (percent, units, degrees) are
 * documented in docs/grading.md.
 */
import { matchingBrace } from './extract.js';

/** Trailing unit words dropped after a number (multi-letter only: `m`, `s` could be variables). */
const UNIT_WORDS = [
  'units?',
  'feet',
  'foot',
  'ft',
  'inch(?:es)?',
  'yards?',
  'yd',
  'miles?',
  'mph',
  'cm',
  'mm',
  'km',
  'kg',
  'mg',
  '(?:centi|milli|kilo)?met(?:er|re)s?',
  '(?:kilo|milli)?grams?',
  'liters?',
  'litres?',
  'ml',
  'hours?',
  'hrs?',
  'minutes?',
  'mins?',
  'seconds?',
  'secs?',
  'days?',
  'weeks?',
  'months?',
  'years?',
  'degrees?',
  'radians?',
  'dollars?',
  'cents?',
  'ways',
  'points?',
  'people',
  'persons?',
  'students?',
  'times',
  'pounds?',
  'lbs?',
  'ounces?',
  'oz',
  'integers?',
  'digits?',
  'sq\\.?\\s*units?',
];
const TRAILING_UNIT = new RegExp(
  `(?<=[\\d})\\]]|\\\\pi)\\s*(?:(?:square|sq\\.?|cubic)\\s*)?(?:${UNIT_WORDS.join('|')})\\.?(?:\\s*\\^\\s*\\{?\\d\\}?)?\\s*$`,
  'i',
);

/** Commands whose argument is plain text; all become `\text`. */
const TEXT_COMMANDS =
  /\\(?:mbox|textnormal|textbf|textit|textrm|textsf|texttt|mathrm|mathit|mathbf|mathsf|mathtt|mathnormal|text)\s*\{/g;

const UNICODE: ReadonlyArray<[RegExp, string]> = [
  [/[−–—]/g, '-'],
  [/π/g, '\\pi '],
  [/∞/g, '\\infty '],
  [/×/g, '\\times '],
  [/[·⋅]/g, '\\cdot '],
  [/≤/g, '\\le '],
  [/≥/g, '\\ge '],
  [/≠/g, '\\ne '],
  [/√/g, '\\sqrt'],
  [/°/g, '^\\circ'],
  [/≈/g, '\\approx '],
];

/**
 * Commands written with a doubled backslash (`\\frac`, `\\left(`): an escaping slip, read as the
 * command. A real row break `\\` before a command keeps its own backslash (`\\\frac`).
 */
const DOUBLED_COMMAND =
  /(?<!\\)\\\\(?=(?:[dtc]?frac|left|right|sqrt|leq?|geq?|lt|gt|neq?|pi|cdot|times|text|mathrm|textbf|boxed|infty|approx|pm|cup|in)(?![A-Za-z]))/g;

/** Normalize one answer string (prediction or gold). Pure; never throws. */
export function normalizeAnswer(raw: string): string {
  let s = raw.trim();
  for (const [re, to] of UNICODE) s = s.replace(re, to);
  s = s.replace(DOUBLED_COMMAND, '\\');
  s = stripDelimiters(s);
  s = canonicalCommands(s);
  s = afterLastImplication(s);
  s = s.replace(/(\d)\s*(?:,\\!|\{,\})\s*(?=\d{3}(?!\d))/g, '$1'); // 32,\!349 and 14{,}916
  s = stripSpacing(s);
  s = s.replace(/\^\s*\{?\s*\\circ\s*\}?|\\degree\b/g, ''); // degrees: 90^\circ -> 90
  s = s.replace(/\\?%/g, ''); // percent sign: 50\% -> 50 (policy: strip, no x100)
  s = stripTrailingTextUnits(s);
  s = unwrapCommand(s, TEXT_COMMANDS);
  s = s.replace(/\b(?:percent(?:age)?|pct)\b/gi, '');
  s = stripTrailingUnitWords(s);
  s = s.replace(/\b(?:and|or)\b/g, ','); // "19, 46, and 82" -> a list
  s = pythonNumbers(s);
  s = s.replace(/\s+/g, ' ').trim();
  s = stripTrailingPunctuation(s);
  s = s.replace(/^(?:\\approx|\\sim|=)\s*/, ''); // a lone "\approx 13.33" states the number
  s = s.replace(/(?<!\\)\\$/, '').trimEnd(); // a stray trailing backslash: 185\
  s = s.replace(/,(?:\s*,)+/g, ',').replace(/^\s*,\s*|\s*,\s*$/g, '');
  s = thousands(s);
  s = stripOuterBraces(s);
  return s.trim();
}

/** Math-mode delimiters, currency and layout-only commands. */
function stripDelimiters(s: string): string {
  return s
    .replace(/\\(?:displaystyle|textstyle|scriptstyle)(?![A-Za-z])/g, '')
    .replace(/\\(?:left|right|[bB]igg?[lr]?)(?![A-Za-z])\s*\.?/g, '') // \left( -> (, \right. -> ''
    .replace(/\\\\|\\[()[\]]/g, (m) => (m === '\\\\' ? m : ' '))
    .replace(/\\\$/g, '')
    .replace(/\$/g, '');
}

/** Synonymous commands mapped to one spelling. */
function canonicalCommands(s: string): string {
  return shorthandArguments(s)
    .replace(/\\[dtc]frac(?![A-Za-z])/g, '\\frac')
    .replace(/\\[dt]binom(?![A-Za-z])/g, '\\binom')
    .replace(/\\(?:neq)(?![A-Za-z])/g, '\\ne ')
    .replace(/\\(?:leq|leqslant)(?![A-Za-z])/g, '\\le ')
    .replace(/\\(?:geq|geqslant)(?![A-Za-z])/g, '\\ge ')
    .replace(/\\lt(?![A-Za-z])/g, '<')
    .replace(/\\gt(?![A-Za-z])/g, '>')
    .replace(/>=/g, '\\ge ')
    .replace(/<=/g, '\\le ')
    .replace(/!=/g, '\\ne ')
    .replace(/\\varnothing(?![A-Za-z])/g, '\\emptyset')
    .replace(/\\langle(?![A-Za-z])/g, '(') // vectors <a, b> are tuples
    .replace(/\\rangle(?![A-Za-z])/g, ')')
    .replace(/(?<![\\A-Za-z])inf(?:inity)?(?![A-Za-z])/gi, '\\infty')
    .replace(/\\infin(?![A-Za-z])/g, '\\infty');
}

/**
 * Arguments written without braces and run into the command's name, which TeX would read as one
 * unknown command: `\fracab` is `\frac{a}{b}`, `\fracabc` is `\frac{a}{b}c`, `\sqrta` is
 * `\sqrt{a}` (the shorthand Minerva's and the MATH graders rewrite the same way).
 */
function shorthandArguments(s: string): string {
  return s.replace(/\\([dtc]?frac)([A-Za-z])([A-Za-z\d])/g, '\\$1{$2}{$3}').replace(/\\sqrt([A-Za-z])/g, '\\sqrt{$1}');
}

/** `x^2 = 4 \Rightarrow x = 2`: what follows the last implication is the conclusion. */
function afterLastImplication(s: string): string {
  const parts = s.split(/\\(?:Rightarrow|Longrightarrow|implies)(?![A-Za-z])/);
  return parts.length > 1 ? parts.at(-1)!.trim() : s;
}

/** Spacing commands carry no meaning: `\!` vanishes, the others become one space. */
function stripSpacing(s: string): string {
  // `\\` (a matrix row break) is matched first so its second backslash is not read as `\ `.
  return s.replace(/\\\\|\\!|\\[,;: ]|\\q?quad(?![A-Za-z])|~/g, (m) => (m === '\\\\' ? m : m === '\\!' ? '' : ' '));
}

/** Replace every `\cmd{...}` matched by `open` (which must end at the `{`) with its content. */
function unwrapCommand(s: string, open: RegExp): string {
  let out = '';
  let from = 0;
  for (const m of s.matchAll(open)) {
    if (m.index < from) continue;
    const brace = m.index + m[0].length - 1;
    const close = matchingBrace(s, brace);
    if (close < 0) break;
    out += s.slice(from, m.index) + unwrapCommand(s.slice(brace + 1, close), new RegExp(open.source, open.flags));
    from = close + 1;
  }
  return out + s.slice(from);
}

/**
 * A trailing `\text{...}` after a value is a unit, with any power (`15\text{ cm}^2`,
 * `3.2\times10^{-4}\,\text{m}^{-1}`), and so is a product or quotient of them (`\text{m}\cdot\text{s}^{-1}`).
 */
function stripTrailingTextUnits(s: string): string {
  for (;;) {
    const m =
      /(?:(?:\\cdot|\\times|\/)\s*)?\\(?:text|mbox|textnormal|mathrm)\s*\{((?:[^{}]|\{[^{}]*\})*)\}\s*(?:\^\s*(?:\{\s*-?\d+\s*\}|-?\d))?\s*$/.exec(
        s,
      );
    if (!m) return s;
    const before = s.slice(0, m.index).trimEnd();
    // Only a unit when it follows a value; a lone `\text{Evelyn}` or `\text{ and } 8` is the answer.
    if (!/[\dA-Za-z})\]|.]$/.test(before) || /^\s*(?:and|or|,)?\s*$/.test(m[1]!)) return s;
    s = before;
  }
}

function stripTrailingUnitWords(s: string): string {
  for (let prev = ''; prev !== s;) {
    prev = s;
    s = s.replace(TRAILING_UNIT, '');
  }
  return s;
}

/** Python/plain-text spellings found in some golds: `np.arcsin(10/13)`, `-1./3`, `.5`, `x**2`. */
function pythonNumbers(s: string): string {
  return (
    s
      .replace(/\b(?:np|numpy|math|sympy|sp)\./g, '')
      .replace(
        /(?<![\\A-Za-z])(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|sec|csc|cot|ln|log|exp|pi)(?![A-Za-z])/g,
        '\\$1',
      )
      .replace(/\*\*/g, '^')
      // e-notation: 8.7e8 -> 8.7\times10^{8}, so no reader mistakes the e for Euler's number.
      .replace(/(?<![\w.\\])(\d+(?:\.\d+)?)e([-+]?\d+)(?![\w.])/gi, '$1\\times10^{$2}')
      .replace(/(^|[^\d.}])\.(\d)/g, (_, pre: string, d: string) => `${pre}0.${d}`) // .5 -> 0.5
      .replace(/(\d)\.(?![\d.])/g, '$1')
  ); // 1. -> 1
}

function stripTrailingPunctuation(s: string): string {
  return s.replace(/(?:\s*(?:\\?(?<!\.)\.|;)(?!\.))+$/, '').trimEnd(); // keeps a trailing `...`
}

/**
 * `2\frac{1}{3}` and `2 1/3` are mixed numbers (a proper fraction after a whole number); applied
 * to each scalar of a structured answer, so list items and bracketed values are covered. Null for
 * the plain-text form with an improper fraction or a zero denominator (`11 6/6`, `4 4/0`): no one
 * writes a product that way, and reading it as one would match its whole part.
 */
export function mixedNumber(s: string): string | null {
  const m = /^([-+]?)(\d+)\s*(?:\\frac\{(\d+)\}\{(\d+)\}|\s(\d+)\/(\d+))$/.exec(s);
  if (!m) return s;
  const num = Number(m[3] ?? m[5]);
  const den = Number(m[4] ?? m[6]);
  if (!(num < den)) return m[5] === undefined ? s : null;
  return `${m[1] === '-' ? '-' : ''}(${m[2]}+\\frac{${num}}{${den}})`;
}

/** Thousands separators, only when the whole answer is one such number: `7,425,000`, `1 000`. */
function thousands(s: string): string {
  if (/^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s)) return s.replace(/,/g, '');
  if (/^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(s)) return s.replace(/ /g, '');
  return s;
}

/** `{5}` -> `5` when one brace group spans the whole answer (not `\{5\}`, a set). */
function stripOuterBraces(s: string): string {
  while (s.startsWith('{') && matchingBrace(s, 0) === s.length - 1) s = s.slice(1, -1).trim();
  return s;
}
