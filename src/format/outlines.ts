import { numbersAfter } from './dialect.js';
import { OUTLINE_NUMBER_RE, TAG } from './tags.js';

/**
 * The outline numbers the controller forks on, by the reference rule: every
 * `<Outline> N:` match in the text from the last `<Outlines>` on, numbers kept verbatim
 * (dotted allowed), duplicates dropped keeping the first. A text without `<Outlines>` has none:
 * a stray `</Outlines>` is no plan.
 */
export function outlineNumbers(text: string): string[] {
  return numbersAfter(text, TAG.outlinesOpen, OUTLINE_NUMBER_RE);
}
