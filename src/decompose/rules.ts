/**
 * The rule-based schema extractor: explicit enumerations only, so that it never splits a prompt
 * the user did not split. A numbered list (`1.`, `1)`, `(1)`, numbered in order), a bulleted list
 * (`-`, `*`, `•`), or an inline list after "each of:" / "for each of:" / "all of:" separated by
 * semicolons (or by commas, with an optional "and", when there is no semicolon). At least two items.
 */
import { MAX_PARTS, type PromptSchema } from './schema.js';

const NUMBERED = /^\s*(?:(\d+)[.)]|\((\d+)\))\s+(\S.*)$/;
const BULLET = /^\s*[-*•]\s+(\S.*)$/;
const INLINE = /^([\s\S]*?)\b(?:for each of|each of|all of)(?: the following)?\s*:\s*([\s\S]+?)([.?!]?)\s*$/i;

/**
 * The schema of a prompt's explicit list (numbered, bulleted, or inline after "each of:"), or null
 * when it has no list of 2 to MAX_PARTS items.
 */
export function extractByRules(prompt: string): PromptSchema | null {
  return listSchema(prompt) ?? inlineSchema(prompt);
}

/** The first run of at least two consecutive list lines (numbered 1, 2, 3… or bulleted). */
function listSchema(prompt: string): PromptSchema | null {
  const lines = prompt.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const numbered = NUMBERED.test(lines[i]!);
    if (!numbered && !BULLET.test(lines[i]!)) continue;
    const items: string[] = [];
    let j = i;
    for (; j < lines.length; j++) {
      const item = numbered ? numberedItem(lines[j]!, items.length + 1) : BULLET.exec(lines[j]!)?.[1]?.trim();
      if (!item) break;
      items.push(item);
    }
    if (items.length >= 2 && items.length <= MAX_PARTS) {
      const before = lines.slice(0, i).join('\n').trim();
      const after = lines.slice(j).join('\n').trim();
      return { template: [before, '{data}', after].filter(Boolean).join('\n'), context: '', data: items };
    }
    i = Math.max(i, j - 1);
  }
  return null;
}

function numberedItem(line: string, expected: number): string | undefined {
  const m = NUMBERED.exec(line);
  return m && Number(m[1] ?? m[2]) === expected ? m[3]!.trim() : undefined;
}

function inlineSchema(prompt: string): PromptSchema | null {
  const m = INLINE.exec(prompt.trim());
  if (!m) return null;
  const [, lead = '', list = '', end = ''] = m;
  const items = (list.includes(';') ? list.split(';') : list.split(/,|\s+and\s+/))
    .map((s) => s.trim().replace(/^and\s+/i, ''))
    .filter(Boolean);
  if (items.length < 2 || items.length > MAX_PARTS) return null;
  const head = lead.trim();
  return { template: `${head ? head + ' ' : ''}{data}${end}`, context: '', data: items };
}
