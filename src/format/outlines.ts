import { OUTLINE_NUMBER_RE, TAG } from './tags.js';

/**
 * The outline numbers the controller forks on, by the reference rule: every
 * `<Outline> N:` match in the text from the last `<Outlines>` on, numbers kept verbatim
 * (dotted allowed), duplicates dropped keeping the first. A text without `<Outlines>` has none:
 * a stray `</Outlines>` is no plan.
 */
export function outlineNumbers(text: string): string[] {
  const from = text.lastIndexOf(TAG.outlinesOpen);
  if (from < 0) return [];
  const section = text.slice(from);
  const seen = new Set<string>();
  for (const m of section.matchAll(OUTLINE_NUMBER_RE)) seen.add(m[1]!);
  return [...seen];
}
